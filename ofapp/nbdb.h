/* nbdb: the model's OVSDB database as mslbd sees it.
 *
 * Reading: the IDL replicates the MSLB database (schemas/mslb.ovsschema);
 * nbdb_run() turns its tracked row changes into changes of the in-memory
 * model (modeldb.h), one service or bridge at a time, validated by the
 * model's own rules.  A row that breaks a rule (a writer that bypassed
 * mslbd) is not taken: the model keeps what it had, and the problem is
 * logged, kept in Global.problems and shown by nbdb_problems().
 *
 * Writing: a change is one object put or deleted, computed by the caller
 * from the model as it stood ('base': the hash of the object it started
 * from).  Changes are committed in OVSDB transactions, several unrelated
 * ones per transaction; each transaction verifies every column it builds
 * on and increments Global.generation, so two writers through any path
 * can never commit a mix.  If the object moved since the caller read it,
 * the change comes back NBDB_RETRY: recompute it from the model and submit
 * again. */
#ifndef MSLB_NBDB_H
#define MSLB_NBDB_H 1

#include <stdbool.h>
#include <stdint.h>
#include "mslb/model.h"

struct mdb;
struct nbdb;
struct shash;
struct smap;

/* 'remote' may list several servers, comma-separated (a clustered
 * database): the IDL follows the cluster's leader.  'id' names this mslbd
 * in the database (Global.master, Bridge_Status.master). */
struct nbdb *nbdb_create(const char *remote, struct mdb *, const char *id);
void nbdb_destroy(struct nbdb *);

/* Processes the database's news into the model, and drives commits.
 * Returns true if the model changed (see mdb_has_changes()). */
bool nbdb_run(struct nbdb *);
void nbdb_wait(struct nbdb *);

/* True once the database's contents arrived (the model is the database's). */
bool nbdb_is_ready(const struct nbdb *);
bool nbdb_is_connected(const struct nbdb *);
/* Global.generation as the model now reflects it. */
uint64_t nbdb_generation(const struct nbdb *);
/* True if the database has no bridge and no service (a seed may go in). */
bool nbdb_is_empty(const struct nbdb *);

enum nbdb_status {
    NBDB_OK,                    /* Committed: 'generation' has it. */
    NBDB_RETRY,                 /* The object moved: recompute, resubmit. */
    NBDB_CONFLICT,              /* The database refused it (index,
                                 * reference): 'error' says why. */
    NBDB_ERROR,                 /* Anything else: 'error' says what. */
};

typedef void nbdb_done_func(void *aux, enum nbdb_status, uint64_t generation,
                            const char *error);

enum nbdb_change_type {
    NBDB_PUT_SERVICE,           /* Create or replace service svc->name. */
    NBDB_DEL_SERVICE,
    NBDB_PUT_BRIDGE,
    NBDB_DEL_BRIDGE,
};

/* Where an object came from, kept in its row's external_ids:mslb-source:
 * a config reload changes and removes only what a config put there. */
enum nbdb_source {
    NBDB_SOURCE_API,            /* REST, an imported state, or unknown. */
    NBDB_SOURCE_CONFIG,         /* --config at start or on SIGHUP. */
};

struct nbdb_change {
    enum nbdb_change_type type;
    enum nbdb_source source;
    struct model_service *svc;  /* PUT_SERVICE (owned by the change). */
    struct model_bridge *br;    /* PUT_BRIDGE (owned by the change). */
    char *name;                 /* DEL_* (owned by the change). */
    uint32_t base;              /* Hash of the object it was computed from
                                 * (model_*_hash()), 0: it did not exist. */
    bool own_slots;             /* PUT_SERVICE: svc->slots is the table to
                                 * move on from (else the model's). */
};

/* Where service 'name''s row came from (a --config file or the API):
 * what a change mslbd makes on its own (a new outbound block) keeps. */
enum nbdb_source nbdb_service_source(const struct nbdb *, const char *name);

/* Queues 'changes' (taking ownership of the array and its contents) to be
 * committed together in one transaction; 'done' is called once.  A batch
 * of one change may share a transaction with other batches. */
void nbdb_submit(struct nbdb *, struct nbdb_change *changes, size_t n,
                 nbdb_done_func *done, void *aux);
/* Forgets 'aux''s callbacks (its requester went away). */
void nbdb_forget(struct nbdb *, void *aux);

/* Imports 'm' (a whole model) in one transaction.  NBDB_SOURCE_CONFIG (a
 * --config file): every object of 'm' is put, except those changed over
 * REST since (kept, with a warning), and objects a config put earlier that
 * 'm' no longer names are deleted.  NBDB_SOURCE_API (an old state file):
 * every object of 'm' is put, nothing is deleted. */
void nbdb_import(struct nbdb *, const struct model *m, enum nbdb_source,
                 nbdb_done_func *done, void *aux);

/* Slot moves (docs/selection.md) end when their time is up unless the
 * switches still hold sessions they keep, which only the caller can ask.
 * nbdb_moves_due() (at most once a second, none while a settlement is
 * being written): adds to 'names' the services with timed moves that are
 * due; true if any.  nbdb_settle_moves() writes them again: a due move for
 * which 'alive' says sessions of its old backend 'from' remain on slot
 * 'slot' lasts another idle_timeout, the others end. */
struct sset;
typedef bool nbdb_move_alive_func(void *aux, const struct model_service *,
                                  uint32_t slot, uint32_t from);
bool nbdb_moves_due(struct nbdb *, struct sset *names);
void nbdb_settle_moves(struct nbdb *, const struct sset *names,
                       nbdb_move_alive_func *, void *aux);

/* Status rows written by mslbd (coalesced, at most a few per second). */
struct nbdb_bridge_status {
    bool connected;
    uint64_t dpid;              /* 0: unknown. */
    const char *openflow_version;
    uint64_t installed_generation, desired_generation;
    uint64_t flows, groups;
    const char *error;          /* NULL: none. */
};
void nbdb_set_bridge_status(struct nbdb *, const char *bridge,
                            const struct nbdb_bridge_status *);

/* Mastership (docs/deployment.md).  Several mslbd may share one database
 * and the same switches; the one that holds the database lock
 * NBDB_MASTER_LOCK is master: it takes the next Global.role_generation in
 * a transaction that asserts the lock, and asks the switches for the
 * master role with it.  Only the master writes status (Bridge_Status,
 * Global.problems), ends slot moves, probes and grows outbound blocks;
 * every mslbd reads the model, compiles it and takes REST writes.  When
 * the lock is lost (the connection to the database is), this mslbd is
 * master no more. */
#define NBDB_MASTER_LOCK "mslb_master"
/* True if this mslbd is master; '*role_generation' is its claim's, or the
 * database's latest when it is not. */
bool nbdb_is_master(const struct nbdb *, uint64_t *role_generation);
uint64_t nbdb_role_generation(const struct nbdb *);
/* A switch refused our master role request as stale: it has seen role
 * generation 'generation' (from an earlier database).  Claims again above
 * it. */
void nbdb_claim_above(struct nbdb *, uint64_t generation);
/* Global.master: the name of the latest master (NULL: none yet). */
const char *nbdb_master_name(const struct nbdb *);
const char *nbdb_id(const struct nbdb *);
/* Bridge 'bridge''s installed generation as its master reported it in
 * Bridge_Status; false if the row is missing or says disconnected. */
bool nbdb_reported_installed(const struct nbdb *, const char *bridge,
                             uint64_t *generation);
/* Moves whenever a Bridge_Status row changed (a standby's view of what
 * the master installed). */
uint64_t nbdb_status_seq(const struct nbdb *);

/* Runtime facts: the master's health results and resolved MACs
 * (Service_Health, Neighbor), so that a standby compiles what the master
 * does and takes over without changing a flow.  The master gives the
 * whole set whenever it changed (taken; written with the status); a
 * standby reads the rows back: nbdb_runtime_seq() moves when they
 * change. */
struct nbdb_health {
    uint32_t *failed;           /* Backend keys. */
    size_t n_failed;
    struct model_slot_move *moves;
    size_t n_moves;
};
void nbdb_health_free(struct nbdb_health *);
void nbdb_set_runtime(struct nbdb *, struct shash *health,
                      struct smap *neighbors);
uint64_t nbdb_runtime_seq(const struct nbdb *);
/* Calls 'cb' for every Service_Health row (the health is the callee's
 * for the call's duration only) and every Neighbor row. */
void nbdb_get_health(const struct nbdb *,
                     void (*cb)(void *aux, const char *service,
                                const struct nbdb_health *),
                     void *aux);
void nbdb_get_neighbors(const struct nbdb *,
                        void (*cb)(void *aux, const char *ip,
                                   const char *mac),
                        void *aux);

/* Rows refused by the model's rules: "Service NAME" -> reason. */
const struct shash *nbdb_problems(const struct nbdb *);

/* Counters for /metrics and the benches. */
struct nbdb_stats {
    uint64_t txns, changes, retries, conflicts, rows_refused;
};
void nbdb_get_stats(const struct nbdb *, struct nbdb_stats *);

#endif /* nbdb.h */
