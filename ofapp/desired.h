/* What a bridge should hold: the model compiled for one bridge, kept as
 * per-service units merged into one flow set so that a change recompiles
 * only the services it touched.  Keyed by bridge; fed with the few facts
 * of the switch it needs.  No I/O. */
#ifndef DESIRED_H
#define DESIRED_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct flowset;

/* The switch facts the compiler needs. */
struct desired_port {
    const char *name;
    uint32_t no;
};

struct desired_facts {
    int ofp_version;
    const struct desired_port *ports;
    size_t n_ports;
    struct mslb_mac local_mac;          /* The LOCAL port's MAC. */
};

struct desired;

struct desired *desired_create(const char *bridge);
void desired_destroy(struct desired *);

/* Brings the desired set in line with model bridge 'br' of 'm' (NULL: the
 * bridge is not in the model, so it should hold none of mslb's entries).
 * Returns false, after logging why, if it cannot be built yet (a port the
 * bridge names is missing); the set is then unchanged. */
bool desired_update(struct desired *, const struct model *m,
                    const struct model_bridge *br,
                    const struct desired_facts *);

/* The desired set (owned by 'desired', the same object for its whole
 * life); its dirty marks say which keys changed. */
struct flowset *desired_flows(struct desired *);

#endif /* desired.h */
