/* IP fragments as bytes: parsing an Ethernet frame that carries an IPv4 or
 * IPv6 fragment, putting a datagram back together, splitting one, and the
 * echo reply the balancer sends to a ping it reassembled.  Pure: no I/O,
 * no clock; used by fragments.c and pmtu.c, and by the unit tests. */
#ifndef MSLB_IPFRAG_H
#define MSLB_IPFRAG_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ofpbuf;

/* The offset of the IP header in Ethernet frame 'pkt' (after any VLAN
 * tags) and its EtherType in '*type', or 0 if the frame is too short. */
size_t ipfrag_l3_offset(const uint8_t *pkt, size_t len, uint16_t *type);

/* One fragment, as ipfrag_parse() found it in a frame. */
struct ipfrag {
    int family;                 /* AF_INET or AF_INET6. */
    uint8_t src[16], dst[16];   /* IPv4: the first 4 bytes. */
    uint32_t id;                /* IPv4: 16 bits; IPv6: 32 bits. */
    uint8_t proto;              /* IPv4: the protocol; IPv6: the next
                                 * header after the fragment header. */
    size_t l3;                  /* Offset of the IP header in the frame. */
    size_t unfrag;              /* Bytes of IP header before the data
                                 * (IPv6: up to the fragment header, which
                                 * is not counted). */
    size_t offset;              /* Of this fragment's data, in bytes. */
    size_t data;                /* Offset of the data in the frame. */
    size_t len;                 /* Bytes of data. */
    bool more;                  /* More fragments follow. */
};

/* Parses Ethernet frame 'pkt' as a fragment.  Returns false if it is not
 * a well-formed IPv4 or IPv6 fragment (IPv6: hop-by-hop, routing and
 * destination options may come before the fragment header). */
bool ipfrag_parse(const uint8_t *pkt, size_t len, struct ipfrag *);

/* In the first fragment 'f' of frame 'pkt': the upper-layer protocol and
 * the offset of its header in the frame (IPv6: after any destination
 * options that follow the fragment header).  Returns false if 'pkt' holds
 * no upper-layer header, or not its first 4 bytes (the ports). */
bool ipfrag_upper(const uint8_t *pkt, const struct ipfrag *f,
                  uint8_t *proto, size_t *l4);

/* Puts the datagram of the 'n' fragments in 'frames' (each an Ethernet
 * frame, 'lens' their sizes) back together, as one Ethernet frame without
 * fragmentation (IPv6: without the fragment header) appended to 'out'.
 * Returns false unless the fragments parse, belong to one datagram and
 * cover it exactly once, and it fits in 65,535 bytes of IP. */
bool ipfrag_reassemble(const uint8_t *const *frames, const size_t *lens,
                       size_t n, struct ofpbuf *out);

/* Splits the IP packet in Ethernet frame 'pkt' (not itself a fragment,
 * IPv4 without DF, or IPv6) into fragments of at most 'mtu' bytes of IP,
 * calling 'cb' with each frame; IPv6 fragments get the fragment header with
 * id 'id6'.  Returns false if it cannot (DF set, 'mtu' too small). */
bool ipfrag_split(const void *pkt, size_t len, int mtu, uint32_t id6,
                  void (*cb)(void *aux, const void *frag, size_t len),
                  void *aux);

/* If Ethernet frame 'pkt' is an ICMP echo request (ICMPv6 for IPv6), its
 * echo reply from the address it was sent to, with the MAC addresses
 * swapped and the source MAC 'mac', appended to 'out'; else false. */
bool ipfrag_echo_reply(const uint8_t *pkt, size_t len, const uint8_t mac[6],
                       struct ofpbuf *out);

#endif /* ipfrag.h */
