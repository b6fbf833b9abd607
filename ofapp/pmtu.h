/* Path MTU for the tunnelling modes (tun, mslb): the packets DSR_FORWARD
 * found too big for their tunnel come here as packet-ins (reg0 service,
 * reg1 backend, reg2 the check and the inner MTU, see pipeline.h).  IPv4
 * with DF and IPv6 are answered as a router would, with ICMP
 * "fragmentation needed" or ICMPv6 "packet too big" carrying the MTU, sent
 * back out of the packet's in_port from the VIP; IPv4 without DF is
 * fragmented and the fragments are sent through DSR_FORWARD again.
 * Answers are rate-limited per bridge.  See docs/mtu.md. */
#ifndef MSLB_PMTU_H
#define MSLB_PMTU_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/ofp-msgs.h"

struct ofpbuf;
struct ofsession;

/* Process-wide counters, for /metrics. */
struct pmtu_counters {
    uint64_t icmp4;             /* "Fragmentation needed" sent. */
    uint64_t icmp6;             /* "Packet too big" sent. */
    uint64_t fragmented;        /* IPv4 packets without DF fragmented. */
    uint64_t limited;           /* Dropped by the rate limit. */
    uint64_t ignored;           /* Malformed, or no answer is due. */
};
void pmtu_get_counters(struct pmtu_counters *);

/* One bridge's handler (its rate limit). */
struct pmtu *pmtu_create(const char *bridge_name);
void pmtu_destroy(struct pmtu *);

/* Handles 'oh' if it is a packet-in of the path-MTU check (then returns
 * true), answering through 's'. */
bool pmtu_handle_msg(struct pmtu *, struct ofsession *s,
                     const struct ofp_header *oh, enum ofptype type);

/* The packets themselves, apart for the unit tests.  pmtu_icmp_answer()
 * appends to 'out' the Ethernet frame of the ICMP error that answers the
 * Ethernet frame 'pkt' (IPv4 or IPv6) with MTU 'mtu' and returns true, or
 * returns false if no error is due (an ICMP error itself, a broadcast or
 * multicast source...).  pmtu_fragment() splits IPv4 frame 'pkt' into
 * fragments of at most 'mtu' bytes of IP, calling 'cb' for each; returns
 * false if it cannot (DF set, header too long). */
bool pmtu_icmp_answer(const void *pkt, size_t len, int mtu,
                      struct ofpbuf *out);
bool pmtu_fragment(const void *pkt, size_t len, int mtu,
                   void (*cb)(void *aux, const void *frag, size_t len),
                   void *aux);

#endif /* pmtu.h */
