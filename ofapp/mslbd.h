/* mslbd: the daemon's shared state. */
#ifndef MSLBD_H
#define MSLBD_H 1

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "mslb/model.h"

struct ofconn;
struct rest_server;

struct mslbd {
    uv_loop_t *loop;
    struct model *model;        /* Current model, never NULL once running. */
    uint64_t generation;        /* Bumped by every accepted model change. */
    char *config_file;
    struct ofconn **conns;      /* Every OpenFlow connection. */
    size_t n_conns, allocated_conns;
    char *state_file;           /* Saved on every accepted change, or NULL. */
    struct rest_server *rest;
    uint64_t started_ms;
};

void mslbd_add_conn(struct mslbd *, struct ofconn *);
void mslbd_remove_conn(struct mslbd *, struct ofconn *);

/* Replaces the model (taking ownership), bumps the generation, saves the
 * state file and brings every bridge in step.  Returns 0, or an errno value
 * if the state could not be saved (then nothing changed). */
int mslbd_set_model(struct mslbd *, struct model *);

/* A bridge installed a generation, or a connection came or went. */
void mslbd_bridges_changed(struct mslbd *);

#endif /* mslbd.h */
