/* MSS clamping (docs/mtu.md): a SYN to a service with "mss" pauses at the
 * controller (compile.c, controller(pause) with the MSS in its userdata);
 * this lowers the SYN's MSS option to the service's value if it is bigger,
 * fixes the TCP checksum, and resumes the packet where it paused, into the
 * service's own actions.  A SYN without the option, or one it cannot
 * parse, is resumed unchanged: every paused packet goes on. */
#ifndef MSLB_MSS_H
#define MSLB_MSS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/ofp-msgs.h"

struct ofsession;

/* Process-wide counters, for /metrics. */
struct mss_counters {
    uint64_t clamped;           /* SYNs whose MSS option was lowered. */
    uint64_t unchanged;         /* Already small enough, or no option. */
};
void mss_get_counters(struct mss_counters *);

/* Handles 'oh' if it is a paused packet-in of MSS clamping (then returns
 * true), resuming it through 's'. */
bool mss_handle_msg(struct ofsession *s, const struct ofp_header *oh,
                    enum ofptype type);

/* Lowers the MSS option of the TCP SYN in Ethernet frame 'pkt' (IPv4, or
 * IPv6 with TCP right after the fixed header) to 'mss' if it is bigger,
 * updating the TCP checksum.  Returns true if it changed the frame. */
bool mss_clamp_frame(uint8_t *pkt, size_t len, uint16_t mss);

#endif /* mss.h */
