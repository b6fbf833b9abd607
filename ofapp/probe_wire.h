/* Health probes as bytes (ofapp/health.c): the frames a probe sends (a TCP
 * segment, a UDP datagram, an ICMP/ICMPv6 echo request, each from the
 * probe address with its checksums) and what an answer to a probe address
 * says.  Pure: bytes in, bytes out, unit-tested (test_probe_wire.c). */
#ifndef PROBE_WIRE_H
#define PROBE_WIRE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

/* An Ethernet frame with an IPv4 (DF set) or IPv6 packet. */
struct probe_frame {
    uint8_t b[1600];
    size_t len;
};

/* A TCP segment without options: 'flags' (TCP_SYN...), 'seq', 'ack' and
 * 'len' bytes of 'data' (at most 1,400), from src:sport to dst:dport. */
void probe_frame_tcp(struct probe_frame *, const struct mslb_mac *eth_src,
                     const struct mslb_mac *eth_dst,
                     const struct mslb_addr *src, uint16_t sport,
                     const struct mslb_addr *dst, uint16_t dport,
                     uint8_t flags, uint32_t seq, uint32_t ack,
                     const void *data, size_t len);
/* A UDP datagram of 'len' bytes of 'data' (at most 1,400). */
void probe_frame_udp(struct probe_frame *, const struct mslb_mac *eth_src,
                     const struct mslb_mac *eth_dst,
                     const struct mslb_addr *src, uint16_t sport,
                     const struct mslb_addr *dst, uint16_t dport,
                     const void *data, size_t len);
/* An ICMP (IPv4) or ICMPv6 echo request with identifier 'id' and
 * sequence number 'seq'. */
void probe_frame_echo(struct probe_frame *, const struct mslb_mac *eth_src,
                      const struct mslb_mac *eth_dst,
                      const struct mslb_addr *src,
                      const struct mslb_addr *dst, uint16_t id,
                      uint16_t seq);

/* A packet to a probe address, as far as the probes care. */
struct probe_answer {
    uint8_t proto;              /* IPPROTO_TCP, _UDP, _ICMP or _ICMPV6. */
    struct mslb_addr src, dst;
    uint16_t sport, dport;      /* ICMP echo reply: dport = identifier,
                                 * sport = sequence number. */
    uint32_t seq, ack;          /* TCP. */
    uint8_t flags;
    const uint8_t *data;        /* TCP, UDP payload (into the packet). */
    size_t len;
    bool unreachable;           /* An ICMP / ICMPv6 port unreachable about
                                 * a UDP datagram: 'proto' is UDP and the
                                 * addresses and ports are the quoted
                                 * datagram's, swapped (as an answer's). */
};

/* Parses Ethernet frame 'p' ('len' bytes): false if it is nothing a probe
 * waits for (not IP, a fragment, too short, another ICMP type). */
bool probe_parse_answer(const uint8_t *p, size_t len,
                        struct probe_answer *);

#endif /* probe_wire.h */
