/* Refusing new sessions of a service with no usable backend and "empty":
 * "reject" (docs/health.md): CLASSIFY sends its TCP SYNs and UDP
 * datagrams to mslbd, which answers each from the VIP with a TCP reset or
 * an ICMP / ICMPv6 port unreachable, out of the port it came in by, at
 * most REJECT_RATE a second per bridge (the rest are dropped). */
#ifndef REJECT_H
#define REJECT_H 1

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/ofp-msgs.h"

struct ofp_header;
struct ofsession;
struct reject;

#define REJECT_RATE 1000

struct reject *reject_create(void);
void reject_destroy(struct reject *);

/* A packet-in on the bridge 'r' serves: true if it was one to refuse. */
bool reject_handle_msg(struct reject *r, struct ofsession *,
                       const struct ofp_header *, enum ofptype);

struct reject_counters {
    uint64_t rst, icmp, limited;
};
void reject_get_counters(struct reject_counters *);

#endif /* reject.h */
