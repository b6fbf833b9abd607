/* Answers mslbd builds from a client's packet, as the VIP it was sent to:
 * ICMP errors (fragmentation needed / packet too big for path MTU,
 * port unreachable for a service that rejects) and TCP resets.  Pure:
 * bytes in, bytes out, unit-tested (tests/unit/test_pmtu.c,
 * test_answers.c). */
#ifndef ANSWERS_H
#define ANSWERS_H 1

#include <stdbool.h>
#include <stddef.h>

struct ofpbuf;

enum answer_icmp {
    ANSWER_TOO_BIG,             /* ICMP 3/4 with the MTU, ICMPv6 2. */
    ANSWER_PORT_UNREACHABLE,    /* ICMP 3/3, ICMPv6 1/4. */
};

/* Appends to 'out' the Ethernet frame of the ICMP or ICMPv6 error of kind
 * 'kind' ('mtu': for ANSWER_TOO_BIG) that answers Ethernet frame 'pkt',
 * from its destination address to its source, MACs swapped, quoting as
 * much of it as RFC 1812 / RFC 4443 allow.  Returns AF_INET or AF_INET6,
 * or 0 if no error is due (not IP, an ICMP error itself, a broadcast,
 * multicast or unspecified source). */
int answer_icmp(const void *pkt, size_t len, enum answer_icmp kind, int mtu,
                struct ofpbuf *out);

/* Appends to 'out' the TCP reset that refuses TCP segment 'pkt' (a SYN):
 * from its destination to its source, RST+ACK acknowledging what it
 * carried (RFC 9293 3.10.7.1).  Returns false if 'pkt' is not TCP or is a
 * reset itself. */
bool answer_tcp_rst(const void *pkt, size_t len, struct ofpbuf *out);

#endif /* answers.h */
