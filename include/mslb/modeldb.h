/* The model as mslbd holds it: services and bridges indexed by name, key,
 * id and backend address, changed one object at a time, with the changes
 * since the last mdb_clear_tracked() remembered for the incremental engine.
 *
 * Every object in it passed model_service_from_json() or
 * model_bridge_from_json(); the rules across objects (unique names, keys
 * and ids, one MAC per backend address, VIPs apart from gateways, bridges
 * in use) are checked by mdb_check_*() before a change is committed to the
 * database, and again when the database delivers it (a writer may bypass
 * mslbd).  Pure: no I/O. */
#ifndef MSLB_MODELDB_H
#define MSLB_MODELDB_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct mdb;
struct shash;

struct mdb *mdb_create(void);
void mdb_destroy(struct mdb *);

size_t mdb_n_services(const struct mdb *);
size_t mdb_n_bridges(const struct mdb *);
size_t mdb_n_backends(const struct mdb *);
size_t mdb_n_services_in_mode(const struct mdb *, enum model_mode);
/* Backends without a configured MAC (that may take another service's). */
size_t mdb_n_macless(const struct mdb *);

const struct model_service *mdb_find_service(const struct mdb *,
                                             const char *name);
const struct model_service *mdb_find_service_by_key(
    const struct mdb *, const struct model_service *key);
const struct model_service *mdb_find_service_by_id(const struct mdb *,
                                                   uint32_t id);
const struct model_bridge *mdb_find_bridge(const struct mdb *,
                                           const char *name);
const struct model_bridge *mdb_find_bridge_by_dpid(const struct mdb *,
                                                   uint64_t dpid);
/* For model_service_from_json(): bridges of this mdb. */
struct model_lookup mdb_lookup(const struct mdb *);

/* Services and bridges, sorted by name, in a malloc'd array of 'n'
 * pointers the caller frees (the objects stay the mdb's). */
const struct model_service **mdb_services_sorted(const struct mdb *,
                                                 size_t *n);
const struct model_bridge **mdb_bridges_sorted(const struct mdb *,
                                               size_t *n);
/* The services that run on first-stage bridge 'bridge' or have a backend
 * hosted on final-stage bridge 'bridge', in a malloc'd array as above. */
const struct model_service **mdb_services_of_bridge(const struct mdb *,
                                                    const char *bridge,
                                                    size_t *n);

/* Whether final-stage bridge 'bridge' hosts a backend of an slb service
 * (an slb host: it runs every slb service's east-west pipeline). */
bool mdb_is_slb_host(const struct mdb *, const char *bridge);

/* The id a new service with key 'svc' gets: the one its key hashes to, or
 * the next free one. */
uint32_t mdb_new_service_id(const struct mdb *, const struct model_service *);

/* Checks 'svc' against every other service and the bridges, as if it
 * replaced the service of the same name.  Returns NULL or a malloc'd
 * "path: reason"; '*conflict' tells a clash with another object (409) from
 * a bad value (422). */
char *mdb_check_service(const struct mdb *, const struct model_service *,
                        const char *path, bool *conflict) MSLB_WARN_UNUSED;
/* Likewise for a bridge replacing the one of the same name. */
char *mdb_check_bridge(const struct mdb *, const struct model_bridge *,
                       const char *path, bool *conflict) MSLB_WARN_UNUSED;
/* The name of a service that uses bridge 'name', or NULL. */
const char *mdb_bridge_user(const struct mdb *, const char *name);

/* Changes.  mdb_put_*() take ownership and replace the object of the same
 * name; the replaced one is kept for the tracked changes. */
void mdb_put_service(struct mdb *, struct model_service *);
bool mdb_remove_service(struct mdb *, const char *name);
void mdb_put_bridge(struct mdb *, struct model_bridge *);
bool mdb_remove_bridge(struct mdb *, const char *name);

/* The MAC some service gives backend address 'ip' (every service that
 * gives one gives the same), or false if none does. */
bool mdb_backend_mac(const struct mdb *, const struct mslb_addr *ip,
                     struct mslb_mac *);

/* Tracked changes: name -> the object as it was before the first change
 * since mdb_clear_tracked() (NULL: it did not exist).  The current object
 * is mdb_find_*(name) (NULL: removed). */
/* A number that changes whenever a change may change the addresses
 * bridges announce or probe (a service's VIP or bridges, a backend behind a
 * final stage, any bridge), and not for other changes (weights, states of
 * other backends...). */
uint64_t mdb_addr_seq(const struct mdb *);
const struct shash *mdb_changed_services(const struct mdb *);
const struct shash *mdb_changed_bridges(const struct mdb *);
bool mdb_has_changes(const struct mdb *);
void mdb_clear_tracked(struct mdb *);

/* A snapshot of the whole model (for golden output and tests): deep copy,
 * services sorted by name. */
struct model *mdb_to_model(const struct mdb *);

#endif /* modeldb.h */
