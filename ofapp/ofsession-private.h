/* Shared by ofsession.c (one session: framing, handshake, ports,
 * keepalive) and ofsession_conn.c (how sessions come to be: listeners and
 * active targets).  Not a public header: ofsession.h is the interface. */
#ifndef OFSESSION_PRIVATE_H
#define OFSESSION_PRIVATE_H 1

#include "ofsession.h"

struct ofpbuf;
struct oftls;

/* A session's or a listener's socket: TCP or Unix. */
union ofsession_stream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

struct ofsession {
    union ofsession_stream h;
    uv_timer_t echo_timer;
    uv_prepare_t flusher;       /* Writes 'tx' before the loop blocks. */
    int open_handles;           /* Freed when the last one closed. */

    const struct ofsession_cbs *cbs;
    void *aux;
    struct ofsession_target *target;    /* NULL if accepted. */
    char *peer;

    enum ofsession_state state;
    bool was_ready;
    bool busy;
    int version;
    uint64_t dpid;
    char *name;                 /* The LOCAL port's name. */
    struct ofsession_port *ports;
    size_t n_ports, allocated_ports;
    uint32_t next_xid;
    uint32_t ports_xid;

    uint8_t *rx;
    size_t rx_len, rx_size;
    struct oftls *tls;          /* ssl:, pssl: (oftls.h); NULL: plain. */
    uint8_t *crx;               /* TLS: the bytes as received. */
    struct ofpbuf *tx;          /* Not yet handed to libuv. */
    uint64_t last_rx_ms;
};

/* ofsession.c.  A new session's timers are initialized; its stream is the
 * caller's to initialize (then open_handles++) before ofsession_start()
 * says HELLO and starts reading, or ofsession_free() closes it. */
struct ofsession *ofsession_create(uv_loop_t *, const char *peer,
                                   const struct ofsession_cbs *, void *aux);
void ofsession_start(struct ofsession *);
/* Closes every handle of 's' (whose stream was initialized); 's' is freed
 * when the last one has closed.  No callback, no reconnect. */
void ofsession_free(struct ofsession *);

/* ofsession_conn.c: the session of target 't' ended; connect again after
 * the next backoff. */
void ofsession_target_lost(struct ofsession_target *t);

#endif /* ofsession-private.h */
