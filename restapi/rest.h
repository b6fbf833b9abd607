/* The REST API of mslbd: libmicrohttpd driven by mslbd's libuv loop, so
 * every request runs on the loop thread, like the OpenFlow side. */
#ifndef MSLB_REST_H
#define MSLB_REST_H 1

#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct bridge;
struct bridges;
struct health;
struct resolver;
struct mdb;
struct nbdb;
struct rest_server;
struct snat;
struct speaker;
struct uv_loop_s;

/* What the REST server sees of the daemon.  mslbd owns it; the server
 * reads the model, queries the bridge table, and changes the model only
 * through database transactions (nbdb.h). */
struct rest_env {
    struct uv_loop_s *loop;
    struct mdb *mdb;            /* The model (modeldb.h), read only. */
    struct nbdb *nbdb;          /* Its database: writes and generation. */
    uint64_t started_ms;
    struct bridges *bridges;    /* Read-only queries (bridges.h). */
    const struct health *health;        /* Backends' health (health.h). */
    const struct resolver *resolver;    /* Resolved MACs (resolve.h). */
    const struct speaker *speaker;      /* BGP (speaker.h), or NULL. */
    const struct snat *snat;            /* Outbound blocks (snat.h). */
    struct ctdump *ctdump;      /* The local switch's conntrack (ctdump.h):
                                 * nat's open sessions; or NULL. */
    /* The generation bridge 'b' installed as this mslbd knows it: as its
     * master, or from the master's Bridge_Status (docs/deployment.md);
     * false if unknown. */
    bool (*installed)(void *aux, const struct bridge *, uint64_t *gen);
    void *aux;
};

struct rest_options {
    const char *listen;         /* "IP:PORT" or "[IPv6]:PORT". */
    const char *token;          /* Bearer token required if not NULL. */
    const char *cert_file;      /* HTTPS when both are set. */
    const char *key_file;
    size_t max_body;            /* Bytes; larger bodies get 413. */
};

/* Starts serving.  Returns NULL or a malloc'd error. */
char *rest_server_start(const struct rest_env *,
                        const struct rest_options *,
                        struct rest_server **) MSLB_WARN_UNUSED;
void rest_server_stop(struct rest_server *);

/* Bridges' installed generations changed: answer writes waiting for them. */
void rest_server_poll_waiters(struct rest_server *);

#endif /* rest.h */
