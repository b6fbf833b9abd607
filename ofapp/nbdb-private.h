/* nbdb's insides, shared by nbdb.c (reading: rows into the model) and
 * nbdb_write.c (writing: changes into transactions, status rows). */
#ifndef MSLB_NBDB_PRIVATE_H
#define MSLB_NBDB_PRIVATE_H 1

#include "nbdb.h"
#include "mslb-idl.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "sset.h"

#define STATUS_INTERVAL_MS 100

/* A uuid -> name map entry. */
struct uuid_name {
    struct hmap_node node;
    struct uuid uuid;
    char *name;
};

struct batch {
    struct ovs_list node;
    struct nbdb_change *changes;
    size_t n;
    nbdb_done_func *done;
    void *aux;
    bool alone;                 /* Failed in company: commit it alone. */
    unsigned int retry_seqno;   /* NBDB_RETRY once the seqno moves. */
};

struct status_entry {
    struct nbdb_bridge_status st;
    char *version, *error;
    bool dirty;
};

/* Reconnecting to a cluster (nbdb.c): see nbdb_redial(). */
struct redial {
    char **remotes;             /* The members, as given. */
    size_t n, turn;
    long long int down_since;   /* 0: connected. */
};

struct nbdb {
    struct ovsdb_idl *idl;
    struct redial redial, lock_redial;
    struct mdb *mdb;
    unsigned int seqno;
    bool ready;
    bool was_connected;
    uint64_t generation;

    struct hmap bridge_names;   /* struct uuid_name: Bridge rows. */
    struct hmap service_names;  /* struct uuid_name: Service rows. */
    struct shash service_rows;  /* Service name -> struct uuid_name. */
    struct hmap backend_owner;  /* struct uuid_name: Backend -> service. */
    struct shash problems;      /* "Service NAME" -> malloc'd reason. */
    bool problems_dirty;

    struct ovs_list queue;      /* struct batch: waiting. */
    struct ovs_list inflight;   /* struct batch: in 'txn'. */
    struct ovs_list retrying;   /* struct batch: TRY_AGAIN, waiting for news. */
    struct ovsdb_idl_txn *txn;
    unsigned int txn_seqno;     /* The IDL's seqno when 'txn' was built. */
    bool global_txn;            /* 'txn' creates or sets the Global row. */
    bool bump_gen;              /* Global.generation went back: move it. */

    struct shash status;        /* Bridge name -> struct status_entry. */
    long long int next_status_ms;

    /* Slot moves whose time is up are settled (nbdb_moves_due(),
     * nbdb_settle_moves()), one batch at a time, at most once a second. */
    long long int next_expiry_ms;
    bool expiring;
    struct sset moving;         /* Services with timed slot moves. */

    struct nbdb_stats stats;

    /* Mastership (nbdb.h): a second connection holds the lock; the
     * master's own writes (the claim, status, problems) go through it, so
     * that the server refuses them once the lock is gone. */
    struct ovsdb_idl *lock_idl;
    char *id;                   /* This mslbd's name. */
    bool has_lock;              /* As of the last run. */
    bool master;                /* Claimed: 'role_gen' is ours. */
    uint64_t role_gen;
    struct ovsdb_idl_txn *ltxn; /* In 'lock_idl': the claim or status. */
    bool ltxn_claim;
    uint64_t ltxn_gen;          /* The claim's generation. */
    bool ltxn_rt, ltxn_problems;    /* What the status 'ltxn' writes. */
    uint64_t claim_floor;       /* Claims go at least this high. */
    long long int next_claim_ms;

    /* Runtime facts the master shares: what it writes ('rt_dirty'), and
     * a count of the changes read back (nbdb_runtime_seq()). */
    struct shash rt_health;     /* Service -> struct nbdb_health. */
    struct smap rt_neighbors;   /* IP text -> MAC text. */
    bool rt_dirty;
    uint64_t runtime_seq;
    uint64_t status_seq;        /* Bridge_Status changes read back. */
    /* Bridge_Status rows by name (nbdb_reported_installed()), as of
     * 'status_rows_seq'. */
    struct shash status_rows;
    uint64_t status_rows_seq;
};


/* nbdb.c */
const struct mslbrec_service *nbdb_service_row(const struct nbdb *,
                                               const char *name);
const struct mslbrec_bridge *nbdb_bridge_row(const struct nbdb *,
                                             const char *name);
void nbdb_full_sync(struct nbdb *);
void nbdb_tracked_sync(struct nbdb *);

/* nbdb_write.c */
void nbdb_start_txn(struct nbdb *);

void nbdb_poll_txn(struct nbdb *);
/* Something for nbdb_write_status() to write. */
bool nbdb_status_pending(const struct nbdb *);
void nbdb_write_status(struct nbdb *);
void nbdb_claim(struct nbdb *);
void nbdb_poll_ltxn(struct nbdb *);
void nbdb_batch_finish(struct batch *, enum nbdb_status, uint64_t gen,
                       const char *error);
void nbdb_batch_destroy(struct batch *);

#endif /* nbdb-private.h */
