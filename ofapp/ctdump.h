/* The local switch's connection tracker, read through ovs-vswitchd's own
 * control socket (OpenFlow has no message to read it): the sessions mode
 * nat holds, for the statistics (docs/api.md, "Statistics"); and other
 * commands of that socket, for the control socket's `trace`.
 *
 * A read runs in the background (a unixctl client driven by mslbd's poll
 * loop, at most 3 s): "ofproto/list" names the bridges that switch has,
 * "dpctl/dump-conntrack" its entries.  Reads asked for while one is under
 * way share its answer. */
#ifndef CTDUMP_H
#define CTDUMP_H 1

#include <stdbool.h>
#include <stdint.h>
#include "mslb/model.h"

struct ctdump;
struct sset;

/* The entries of a finished read, counted: the sessions still open (TCP
 * not in TIME_WAIT or CLOSED; every UDP and other entry until it times
 * out) by zone and (protocol, original destination = VIP:port, reply
 * source = backend:port). */
struct ct_sessions;

/* 'error' is NULL, or why nothing could be read (then 'ct' and 'bridges'
 * are NULL).  Both are the callee's for the call's duration only. */
typedef void ctdump_cb(void *aux, const struct ct_sessions *ct,
                       const struct sset *bridges, const char *error);

struct ctdump *ctdump_create(void);
/* Fails (calls back with an error) every read and call under way. */
void ctdump_destroy(struct ctdump *);
void ctdump_read(struct ctdump *, ctdump_cb *, void *aux);

/* Any unixctl command of the switch, in the background as the reads
 * (e.g. "ofproto/trace" for `trace`): 'cb' gets its text or an error
 * (the callee's for the call's duration only). */
typedef void ctdump_call_cb(void *aux, const char *result,
                            const char *error);
void ctdump_call(struct ctdump *, const char *method, size_t argc,
                 const char *const argv[], ctdump_call_cb *, void *aux);
void ctdump_run(struct ctdump *);
void ctdump_wait(struct ctdump *);

/* The open sessions in zone 'zone' of protocol 'proto' to 'vip':'vport'
 * translated to 'rip':'rport'. */
uint64_t ct_sessions_count(const struct ct_sessions *, uint16_t zone,
                           uint8_t proto, const struct mslb_addr *vip,
                           uint16_t vport, const struct mslb_addr *rip,
                           uint16_t rport);
/* Open sessions in all. */
uint64_t ct_sessions_total(const struct ct_sessions *);

struct ct_sessions *ct_sessions_clone(const struct ct_sessions *);

/* Parses dump-conntrack's text (for the unit test). */
struct ct_sessions *ct_sessions_parse(const char *text);
void ct_sessions_destroy(struct ct_sessions *);

/* The control socket of the local ovs-vswitchd: OVS_RUNDIR (default
 * /var/run/openvswitch)/ovs-vswitchd.ctl, or ovs-vswitchd.PID.ctl from
 * its pidfile.  NULL and '*error' (malloc'd) if there is none. */
char *ctdump_switch_socket(char **error);

#endif /* ctdump.h */
