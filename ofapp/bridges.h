/* The bridge table: every bridge mslbd has met, keyed by name and datapath
 * id, each with its desired state and its reconciler, which outlive the
 * OpenFlow sessions that come and go.  mslbd owns the table; the REST
 * layer only queries it.  Upward news goes through 'struct bridges_cbs'. */
#ifndef BRIDGES_H
#define BRIDGES_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>
#include "mslb/model.h"
#include "ofstats.h"
#include "openvswitch/ofp-msgs.h"

struct bridges;
struct bridge;
struct ofp_header;
struct ofsession;
struct lbengine;
struct mdb;
struct swfacts;

struct bridges_cbs {
    /* A bridge installed a generation, connected, went away, or reported
     * new facts (the engine may have work). */
    void (*changed)(void *aux);
    /* A packet-in on bridge 'bridge' (before mslbd's own handlers):
     * true if the callee took it. */
    bool (*packet_in)(void *aux, const char *bridge, struct ofsession *,
                      const struct ofp_header *, enum ofptype);
    /* A switch refused our master role request: it has seen role
     * generation 'generation' (bridges_set_role()). */
    void (*stale_role)(void *aux, uint64_t generation);
};

/* The table reads the model 'mdb' (to know which model bridge a switch
 * is), writes the switches' facts into 'sw', and hands each reconciler its
 * desired table from 'engine'; the caller runs the engine between. */
struct bridges *bridges_create(uv_loop_t *, const struct mdb *,
                               struct swfacts *sw, const struct lbengine *,
                               const struct bridges_cbs *, void *aux);
/* Closes the listeners; sessions end with the loop. */
void bridges_destroy(struct bridges *);

/* Targets: "ptcp:PORT[:IP]", "punix:PATH" (listen) or "tcp:IP:PORT",
 * "unix:PATH" (connect, and reconnect when lost).  Return NULL or a
 * malloc'd error. */
char *bridges_listen(struct bridges *, const char *target)
    MSLB_WARN_UNUSED;
char *bridges_connect(struct bridges *, const char *target)
    MSLB_WARN_UNUSED;
/* Closes every listener (and removes unix socket files). */
void bridges_close_listeners(struct bridges *);

/* The model's bridges changed: a switch may now be another model bridge
 * (or none).  Updates the switch facts; the caller runs the engine. */
void bridges_model_changed(struct bridges *);
/* The engine ran for generation 'generation': hands every connected
 * bridge's reconciler its table where it changed. */
void bridges_publish(struct bridges *, uint64_t generation);

/* The database made this mslbd master with role generation 'generation'
 * (true), or another one is master and 'generation' is the database's
 * latest (false): asks every switch for that role.  A bridge is written to
 * only once its switch confirmed us as master. */
void bridges_set_role(struct bridges *, bool master, uint64_t generation);

/* Gratuitous ARP and unsolicited neighbour advertisements for every VIP
 * and gateway of each connected first-stage bridge (announce.h): every
 * 'seconds' (spread over the interval), and at once for new addresses;
 * 0 turns them off. */
#define BRIDGES_ANNOUNCE_DEFAULT 30
void bridges_set_announce_interval(struct bridges *, unsigned int seconds);

/* Read-only queries (the REST layer's view).  Bridges are listed whether
 * connected or not; only connected ones have a live status. */
size_t bridges_count(const struct bridges *);
struct bridge *bridges_at(const struct bridges *, size_t i);
/* The connected bridge named 'name', or NULL. */
struct bridge *bridges_find(const struct bridges *, const char *name);

/* The model's bridges as this mslbd sees them (GET /v1/health, the
 * control socket's status): how many the model has, how many are
 * connected, how many have installed generation 'gen' (as their master
 * knows it: 'installed', the daemon's view, for bridges this mslbd is not
 * master of). */
struct bridges_tally {
    size_t configured, connected, in_step;
};
struct mdb;
void bridges_tally(const struct bridges *, const struct mdb *, uint64_t gen,
                   bool (*installed)(void *aux, const struct bridge *,
                                     uint64_t *gen),
                   void *aux, struct bridges_tally *);

const char *bridge_name(const struct bridge *);
/* Its OpenFlow session for packet-outs: NULL while disconnected or not
 * its master. */
struct ofsession *bridge_session(const struct bridge *);
/* Its switch confirmed us as master. */
bool bridge_is_master(const struct bridge *);
/* Connected: as a slave, or as master once what the switch holds has been
 * adopted. */
bool bridge_is_connected(const struct bridge *);
uint64_t bridge_installed_generation(const struct bridge *);
/* Connected, idle, and the model's generation installed. */
bool bridge_in_step(const struct bridge *);
/* Status (new reference): name, datapath_id, openflow_version, connected,
 * installed_generation, flows, groups, ports. */
json_t *bridge_status_json(const struct bridge *);
/* Collects the bridge's statistics; 'cb' gets NULL if it is not connected
 * or the session ends first (see ofstats.h). */
void bridge_collect_stats(struct bridge *, ofstats_cb *cb, void *aux);
/* Only the learned affinity entries (ofstats_collect_learned()). */
void bridge_collect_learned(struct bridge *, ofstats_cb *cb, void *aux);

#endif /* bridges.h */
