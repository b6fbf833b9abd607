/* Announcements: a first-stage bridge keeps its MAC known on the segments
 * it serves, as balancers do, with gratuitous ARP (IPv4) and unsolicited
 * neighbour advertisements (IPv6) for every VIP of its services (out of the
 * frontend port) and for its gateway addresses (out of the frontend and the
 * backend port).  A final-stage bridge asks for the servers behind it
 * instead (an ARP probe, a neighbour solicitation) so that their answers
 * teach its MAC learning where each server is: it switches what it
 * restores or decapsulates with NORMAL, which floods frames to a MAC it has
 * not learned, and servers of the DSR modes may send nothing first.
 *
 * The frames and the schedule are computed here without I/O: the caller
 * (the bridge table) supplies the clock and sends the packet-outs. */
#ifndef ANNOUNCE_H
#define ANNOUNCE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct mdb;
struct ofpbuf;

/* One address to announce. */
struct announce_target {
    struct mslb_addr addr;
    bool gateway;               /* Also out of the backend port. */
    bool probe;                 /* A server behind a final stage: asked
                                 * for, flooded (announce_probe_frame()). */
};

/* What bridge 'br' announces in 'mdb', sorted, each once, in a malloc'd
 * array of '*n': a first stage its services' VIPs and its gateways; a final
 * stage the address of every backend it hosts (probe). */
struct announce_target *announce_targets(const struct mdb *,
                                         const struct model_bridge *br,
                                         size_t *n);

/* The frame announcing 'addr' with 'mac': a gratuitous ARP request
 * (sender = target = 'addr', broadcast) or an unsolicited neighbour
 * advertisement (override flag, to ff02::1, target link-layer address
 * 'mac').  Returns its length, written to 'buf' (at least
 * ANNOUNCE_FRAME_MAX bytes). */
#define ANNOUNCE_FRAME_MAX 128
size_t announce_frame(const struct mslb_addr *addr, const struct mslb_mac *,
                      uint8_t buf[ANNOUNCE_FRAME_MAX]);

/* The frame asking for server 'addr' from 'mac', whose answer comes back
 * to 'mac' from the server's MAC: an ARP probe (sender address 0.0.0.0,
 * broadcast) or a neighbour solicitation from the link-local address of
 * 'mac' (to the solicited-node group, source link-layer address 'mac').
 * Returns its length, written to 'buf'. */
size_t announce_probe_frame(const struct mslb_addr *addr,
                            const struct mslb_mac *,
                            uint8_t buf[ANNOUNCE_FRAME_MAX]);

/* A packet-out of 'frame' to OpenFlow port 'port', in 'ofp_version'. */
struct ofpbuf *announce_packet_out(int ofp_version, const void *frame,
                                   size_t len, uint32_t port);

/* One bridge's schedule.  Every address is announced once as soon as it is
 * new (at most ANNOUNCE_BURST per call, so a big model is sent in steps),
 * then again every interval, the addresses spread evenly over it. */
#define ANNOUNCE_BURST 200
#define ANNOUNCE_MIN_STEP_MS 20
struct announcer;

struct announcer *announcer_create(uint64_t interval_ms);
void announcer_destroy(struct announcer *);
/* Forgets what was announced (the switch went away): every address will
 * be new again. */
void announcer_reset(struct announcer *);
/* Replaces the addresses (takes 'targets', malloc'd, sorted as
 * announce_targets() returns them); those not in the last set are new. */
void announcer_set_targets(struct announcer *, struct announce_target *,
                           size_t n, uint64_t now_ms);
/* Stores in 'out' (room for ANNOUNCE_BURST) the addresses due at 'now_ms'
 * and returns how many; '*next_ms' gets when the next ones are due
 * (UINT64_MAX: none). */
size_t announcer_due(struct announcer *, uint64_t now_ms,
                     const struct announce_target **out, uint64_t *next_ms);

#endif /* announce.h */
