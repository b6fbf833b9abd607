/* One OpenFlow session with one switch: a libuv stream, framing, HELLO and
 * version negotiation (1.3 to 1.5), FEATURES, port descriptions and
 * port-status, echo keepalive.  Listeners (ptcp:, punix:) create sessions
 * for switches that connect; active targets (tcp:, unix:) connect and
 * reconnect with backoff.
 *
 * A session knows nothing of the model, flows or REST: it hands events and
 * every message it does not handle itself up through callbacks. */
#ifndef OFSESSION_H
#define OFSESSION_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/types.h"

struct ofpact;
struct ofpbuf;
struct ofp_header;
struct ofsession;

#define OFSESSION_STATES                                                  \
    OFSESSION_STATE(CONNECTING, "connecting")  /* connect() under way */  \
    OFSESSION_STATE(HELLO, "hello")            /* waiting for HELLO */    \
    OFSESSION_STATE(FEATURES, "features")      /* ...FEATURES_REPLY */    \
    OFSESSION_STATE(PORTS, "ports")            /* ...port descriptions */ \
    OFSESSION_STATE(READY, "ready")            /* handshake done */       \
    OFSESSION_STATE(CLOSING, "closing")        /* handles closing */

enum ofsession_state {
#define OFSESSION_STATE(NAME, TEXT) OFSESSION_##NAME,
    OFSESSION_STATES
#undef OFSESSION_STATE
};

const char *ofsession_state_name(enum ofsession_state);

/* Upward notifications.  'ready' comes once the switch's features and
 * ports are known; 'ports_changed' when a port is added or deleted after
 * that; 'msg' for every decoded message the session does not handle itself
 * (only once ready); 'disconnected' last, for a session that was ready,
 * after which the session is freed. */
struct ofsession_cbs {
    void (*ready)(void *aux, struct ofsession *);
    void (*ports_changed)(void *aux, struct ofsession *);
    void (*msg)(void *aux, struct ofsession *, const struct ofp_header *,
                enum ofptype);
    void (*disconnected)(void *aux, struct ofsession *);
};

struct ofsession_port {
    char name[16];
    uint32_t no;                /* 16-bit OpenFlow port number. */
    struct eth_addr mac;
};

/* Listening and connecting.  Both return NULL, or a malloc'd error. */
struct ofsession_listener;
struct ofsession_target;
char *ofsession_listen(uv_loop_t *, const char *target,
                       const struct ofsession_cbs *, void *aux,
                       struct ofsession_listener **)
    __attribute__((warn_unused_result));
void ofsession_listener_close(struct ofsession_listener *);
char *ofsession_connect(uv_loop_t *, const char *target,
                        const struct ofsession_cbs *, void *aux,
                        struct ofsession_target **)
    __attribute__((warn_unused_result));

/* Sending.  ofsession_send() gives 'msg' (taken) a fresh xid and returns
 * it; ofsession_send_xid() keeps the xid 'msg' carries (one from
 * ofsession_alloc_xid()).  Output is written once per loop iteration. */
uint32_t ofsession_send(struct ofsession *, struct ofpbuf *msg);
void ofsession_send_xid(struct ofsession *, struct ofpbuf *msg);
uint32_t ofsession_alloc_xid(struct ofsession *);
/* A packet-out of Ethernet frame 'pkt' as if it came in on 'in_port', with
 * the OpenFlow actions 'ofpacts' ('ofpacts_len' bytes), in the session's
 * version. */
void ofsession_packet_out(struct ofsession *, ofp_port_t in_port,
                          const void *pkt, size_t len,
                          const struct ofpact *ofpacts, size_t ofpacts_len);

/* Closes the session ('disconnected' follows); an active target then
 * reconnects. */
void ofsession_close(struct ofsession *, const char *why);

/* While 'busy' (a big bundle being committed), the switch may not answer
 * echo requests for a long time: the session waits longer. */
void ofsession_set_busy(struct ofsession *, bool busy);

enum ofsession_state ofsession_state(const struct ofsession *);
int ofsession_version(const struct ofsession *);
uint64_t ofsession_dpid(const struct ofsession *);
const char *ofsession_name(const struct ofsession *);  /* LOCAL port's. */
const char *ofsession_peer(const struct ofsession *);
const struct ofsession_port *ofsession_ports(const struct ofsession *,
                                             size_t *n);

/* Keepalive and backoff rules, apart from the clock so tests can drive
 * them: what to do 'now_ms' when the last message came at 'last_rx_ms'. */
enum ofsession_keepalive {
    OFSESSION_PROBE,            /* Send an echo request. */
    OFSESSION_DEAD,             /* Close the session. */
};
enum ofsession_keepalive ofsession_keepalive_check(uint64_t last_rx_ms,
                                                   uint64_t now_ms,
                                                   bool busy);
/* The next reconnect delay after one of 'backoff_ms' (0: the first). */
int ofsession_backoff_next(int backoff_ms);

#endif /* ofsession.h */
