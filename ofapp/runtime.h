/* The runtime facts mslbd shares through the database (nbdb.h,
 * docs/deployment.md): the master writes its health results and resolved
 * MACs (Service_Health, Neighbor) whenever they change; a standby reads
 * them back into its own health and resolver, so that it compiles the
 * tables the master installed and takes over without changing a flow. */
#ifndef RUNTIME_H
#define RUNTIME_H 1

#include <stdbool.h>
#include <stdint.h>

struct health;
struct nbdb;
struct resolver;

struct runtime_sync {
    struct nbdb *nbdb;
    struct health *health;
    struct resolver *resolver;
    bool exported;              /* Written at least once as master. */
    uint64_t health_seq, resolver_seq;  /* What was written last. */
    uint64_t runtime_seq;       /* nbdb_runtime_seq() read last. */
};

void runtime_sync_init(struct runtime_sync *, struct nbdb *,
                       struct health *, struct resolver *);
/* The master: writes health results and MACs if they changed since. */
void runtime_export(struct runtime_sync *);
/* A standby: reads the master's rows (a service failing here without a
 * row there is all up). */
void runtime_import(struct runtime_sync *);
/* The database's rows changed since the last runtime_import(). */
bool runtime_import_due(const struct runtime_sync *);
/* The role changed: write ours again once as master, read theirs again
 * as standby. */
void runtime_role_changed(struct runtime_sync *);

#endif /* runtime.h */
