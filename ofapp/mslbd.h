/* mslbd: the daemon's shared state. */
#ifndef MSLBD_H
#define MSLBD_H 1

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "mslb/model.h"

struct ofconn;

struct mslbd {
    uv_loop_t *loop;
    struct model *model;        /* Current model, never NULL once running. */
    uint64_t generation;        /* Bumped by every accepted model change. */
    char *config_file;
    struct ofconn **conns;      /* Every OpenFlow connection. */
    size_t n_conns, allocated_conns;
};

void mslbd_add_conn(struct mslbd *, struct ofconn *);
void mslbd_remove_conn(struct mslbd *, struct ofconn *);

#endif /* mslbd.h */
