/* The control socket: mslbd answers `ovs-appctl` as OVS's daemons do
 * (docs/controller.md, "Control socket").
 *
 *   version          mslbd's version (OVS's unixctl)
 *   status           this mslbd's role, the model's generation, the
 *                    database, the bridges in step
 *   bridge/show [BR] each bridge: connection, OpenFlow role, generations,
 *                    flows and groups
 *   trace BR FLOW    the switch's ofproto/trace with mslb's table names,
 *                    the service and, when traceable, the backend (asked
 *                    in the background: 3 s at most, the loop runs on)
 *   exit             stop as on SIGTERM (the bridges keep their flows)
 *   vlog/...         OVS's logging commands: vlog/list, vlog/set,
 *                    vlog/reopen (after logrotate moved the file), ...
 *
 * The socket is PATH (--unixctl), or by default mslbd.PID.ctl beside the
 * pidfile (without --pidfile, in OVS's run directory), so that
 * `ovs-appctl -t mslbd` finds it when the pidfile is RUNDIR/mslbd.pid
 * (OVS_RUNDIR=DIR elsewhere). */
#ifndef CONTROL_H
#define CONTROL_H 1

#include <stdbool.h>
#include <stdint.h>

struct bridge;
struct bridges;
struct mdb;
struct nbdb;
struct control;

struct ctdump;

struct control_env {
    struct nbdb *nbdb;
    struct ctdump *ctdump;      /* The switch's socket, for "trace". */
    const struct mdb *mdb;
    struct bridges *bridges;
    /* The generation bridge 'b' installed as this mslbd knows it (as its
     * master, or from the master's Bridge_Status); false if unknown. */
    bool (*installed)(void *aux, const struct bridge *, uint64_t *gen);
    void (*exit)(void *aux);    /* "exit": stop the daemon. */
    void *aux;
};

/* Opens the socket at 'path' (NULL: the default above, from 'pidfile',
 * which may be NULL).  Returns NULL or a malloc'd error. */
char *control_start(const char *path, const char *pidfile,
                    const struct control_env *, struct control **);
void control_run(struct control *);
void control_wait(struct control *);
void control_destroy(struct control *);
const char *control_path(const struct control *);

#endif /* control.h */
