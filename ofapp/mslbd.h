/* mslbd: the daemon's shared state. */
#ifndef MSLBD_H
#define MSLBD_H 1

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "mslb/model.h"

struct dbserver;
struct mainloop;
struct mdb;
struct nbdb;
struct ofconn;
struct rest_server;

struct mslbd {
    uv_loop_t *loop;
    struct mainloop *mainloop;  /* OVS's poll loop around 'loop'. */
    struct dbserver *dbserver;  /* The model's ovsdb-server. */
    struct nbdb *nbdb;          /* The model's database. */
    struct mdb *mdb;            /* The model, as the database has it. */
    bool model_ready;           /* Start-up import done: bridges may sync. */
    bool import_done;
    uint64_t import_gen;
    int exit_code;
    struct model *model;        /* Snapshot of 'mdb' for the OpenFlow side,
                                 * never NULL once running. */
    uint64_t generation;        /* The database's generation it has. */
    char *config_file;
    struct ofconn **conns;      /* Every OpenFlow connection. */
    size_t n_conns, allocated_conns;
    char *state_file;           /* --state: the database file. */
    struct rest_server *rest;
    uint64_t started_ms;
};

void mslbd_add_conn(struct mslbd *, struct ofconn *);
void mslbd_remove_conn(struct mslbd *, struct ofconn *);

/* A bridge installed a generation, or a connection came or went. */
void mslbd_bridges_changed(struct mslbd *);

#endif /* mslbd.h */
