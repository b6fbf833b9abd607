/* The REST server's insides, shared by its files:
 *   rest.c         the HTTP edge: libmicrohttpd, routing, answers;
 *   rest_model.c   services, backends and bridges: reads, and writes as
 *                  database transactions answered once bridges have them;
 *   rest_status.c  bridge status, health, BGP, SNAT and metrics;
 *   rest_stats.c   the statistics: flow counters per service and backend,
 *                  kept across replaced flows, rates, nat's open sessions. */
#ifndef MSLB_REST_PRIVATE_H
#define MSLB_REST_PRIVATE_H 1

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>
#include <uv.h>
#include "rest.h"
#include "sset.h"

#define DEFAULT_WAIT_S 5
#define MAX_WAIT_S 300

struct ct_sessions;
struct ds;
struct request;
struct rest_stats_keeper;
struct rest_write;

struct rest_server {
    const struct rest_env *d;
    struct MHD_Daemon *mhd;
    struct rest_gate *gate;     /* Accepts, limits, checks heads. */
    uv_poll_t poll;
    uv_timer_t timer;
    char *token;
    size_t max_body;
    char *cert, *key;
    struct request *waiting;    /* Writes waiting for bridges. */
    struct rest_stats_keeper *stats_keeper;     /* rest_stats.c. */
};

struct request {
    struct rest_server *srv;
    struct MHD_Connection *conn;
    char *body;
    size_t len, size;
    bool too_big;
    bool suspended;
    bool waiting;               /* In srv->waiting. */
    struct request *next;

    /* The answer, once known. */
    int status;
    char *resp;
    const char *content_type;
    const char *allow;

    /* A write: its database change under way (rest_model.c), then its
     * generation, which the answer waits for. */
    struct rest_write *write;
    uint64_t gen;
    uint64_t deadline_ms;
    json_t *result;

    /* A statistics read waiting for the switches. */
    int stats_pending;
    json_t *stats;              /* Array of per-bridge replies. */
    bool ct_asked;              /* The switch's conntrack was asked. */
    struct ct_sessions *ct;     /* Its answer (ctdump.h), or NULL. */
    struct sset ct_bridges;     /* The bridges that switch has. */
    char *ct_error;             /* Why it could not be read. */
    bool metrics;
    bool orphaned;              /* Its connection is gone (the server
                                 * stopped): freed by the last reply. */
};


/* rest.c */
/* Frees a request that no connection holds any more. */
void rest_request_free(struct request *);
uint64_t mono_ms(void);
void set_response(struct request *, int status, char *body,
                  const char *type);
void respond_json(struct request *, int status, json_t *);
void respond_error(struct request *, int status, const char *code,
                   const char *message, const char *path);
void respond_invalid(struct request *, int status, const char *code,
                     const char *msg, const char *path, const char *prefix);
void kick(struct rest_server *);
void resume(struct request *);
int wait_seconds(struct request *);

/* rest_model.c */
void rest_not_found(struct request *, const char *what, const char *name);
void rest_get_services(struct request *);
void rest_get_service(struct request *, const char *name);
void rest_put_service(struct request *, const char *name, bool post);
void rest_delete_service(struct request *, const char *name);
void rest_get_backends(struct request *, const char *service);
void rest_get_backend(struct request *, const char *service,
                      const char *backend);
void rest_post_backend(struct request *, const char *service);
void rest_change_backend(struct request *, const char *service,
                         const char *backend, bool delete);
void rest_put_bridge(struct request *, const char *name);
void rest_delete_bridge(struct request *, const char *name);
void rest_request_gone(struct request *);

/* rest_status.c */
bool rest_installed(struct rest_server *, uint64_t gen, bool *any);
json_t *rest_all_bridges(struct rest_server *);
void rest_get_bridge(struct request *, const char *name);
void rest_get_health(struct request *);
void rest_get_bgp(struct request *);
void rest_get_snat(struct request *);
void rest_put_metric(struct ds *, const char *name, const char *help,
                     const char *type);
char *rest_format_metrics(struct rest_server *, const json_t *stats);

/* rest_stats.c */
void rest_get_stats(struct request *, bool metrics);
void rest_stats_put_metrics(struct ds *, const json_t *stats);
void rest_stats_free(struct rest_server *);

#endif /* rest-private.h */
