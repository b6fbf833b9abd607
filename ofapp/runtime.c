/* Runtime facts between master and standbys: see runtime.h. */
#include <config.h>
#include "runtime.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "nbdb.h"
#include "resolve.h"
#include "mslb/model.h"
#include "openvswitch/shash.h"
#include "smap.h"
#include "sset.h"
#include "util.h"

static void
export_health(void *health_, const char *service, const uint32_t *failed,
              size_t n_failed, const struct model_slot_move *moves,
              size_t n_moves)
{
    struct nbdb_health *h = xzalloc(sizeof *h);

    h->failed = xmalloc((n_failed + 1) * sizeof *failed);
    memcpy(h->failed, failed, n_failed * sizeof *failed);
    h->n_failed = n_failed;
    h->moves = xmalloc((n_moves + 1) * sizeof *moves);
    memcpy(h->moves, moves, n_moves * sizeof *moves);
    h->n_moves = n_moves;
    nbdb_health_free(shash_replace(health_, service, h));
}

static void
export_mac(void *neighbors, const struct mslb_addr *ip,
           const struct mslb_mac *mac)
{
    char addr[INET6_ADDRSTRLEN], text[32];

    mslb_addr_format(ip, addr, sizeof addr);
    mslb_mac_format(mac, text, sizeof text);
    smap_replace(neighbors, addr, text);
}

void
runtime_sync_init(struct runtime_sync *rs, struct nbdb *nbdb,
                  struct health *health, struct resolver *resolver)
{
    *rs = (struct runtime_sync) {
        .nbdb = nbdb, .health = health, .resolver = resolver,
    };
}

void
runtime_export(struct runtime_sync *rs)
{
    uint64_t hs = health_seq(rs->health), ms = resolver_seq(rs->resolver);
    struct shash health = SHASH_INITIALIZER(&health);
    struct smap neighbors = SMAP_INITIALIZER(&neighbors);

    if (rs->exported && hs == rs->health_seq && ms == rs->resolver_seq) {
        return;
    }
    health_export(rs->health, export_health, &health);
    resolver_export(rs->resolver, export_mac, &neighbors);
    nbdb_set_runtime(rs->nbdb, &health, &neighbors);
    shash_destroy(&health);
    smap_destroy(&neighbors);
    rs->exported = true;
    rs->health_seq = hs;
    rs->resolver_seq = ms;
}

struct import_ctx {
    struct runtime_sync *rs;
    struct sset seen;           /* Services with a Service_Health row. */
};

static void
import_health(void *ctx_, const char *service, const struct nbdb_health *h)
{
    struct import_ctx *ctx = ctx_;

    sset_add(&ctx->seen, service);
    health_import(ctx->rs->health, service, h->failed, h->n_failed,
                  h->moves, h->n_moves);
}

static void
failing_here(void *names, const char *service,
             const uint32_t *failed OVS_UNUSED, size_t n_failed OVS_UNUSED,
             const struct model_slot_move *moves OVS_UNUSED,
             size_t n_moves OVS_UNUSED)
{
    sset_add(names, service);
}

static void
import_mac(void *ctx_, const char *ip_text, const char *mac_text)
{
    struct import_ctx *ctx = ctx_;
    struct mslb_addr ip;
    struct mslb_mac mac;

    if (mslb_addr_parse(ip_text, &ip) && mslb_mac_parse(mac_text, &mac)) {
        resolver_import(ctx->rs->resolver, &ip, &mac);
    }
}

void
runtime_import(struct runtime_sync *rs)
{
    struct import_ctx ctx = { .rs = rs, .seen = SSET_INITIALIZER(&ctx.seen) };
    struct sset here = SSET_INITIALIZER(&here);
    const char *name;

    rs->runtime_seq = nbdb_runtime_seq(rs->nbdb);
    nbdb_get_health(rs->nbdb, import_health, &ctx);
    health_export(rs->health, failing_here, &here);
    SSET_FOR_EACH (name, &here) {
        if (!sset_contains(&ctx.seen, name)) {
            health_import(rs->health, name, NULL, 0, NULL, 0);
        }
    }
    nbdb_get_neighbors(rs->nbdb, import_mac, &ctx);
    sset_destroy(&here);
    sset_destroy(&ctx.seen);
}

bool
runtime_import_due(const struct runtime_sync *rs)
{
    return nbdb_runtime_seq(rs->nbdb) != rs->runtime_seq;
}

void
runtime_role_changed(struct runtime_sync *rs)
{
    rs->exported = false;
    rs->runtime_seq--;
}
