/* mslbd: the mslb controller daemon.
 *
 *   mslbd --config FILE [--listen TARGET]... [--connect TARGET]...
 *         [--pidfile FILE] [--log-file FILE] [--bgp FILE] [--verbose]
 *   mslbd --check --config FILE
 *
 * SIGHUP reloads the config file: a valid file becomes the next generation,
 * an invalid one is logged and changes nothing.  SIGTERM/SIGINT stop the
 * daemon and leave every bridge's flows in place. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <libgen.h>

#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uv.h>
#include <jansson.h>

#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "openvswitch/poll-loop.h"
#include "smap.h"
#include "sset.h"
#include "util.h"
#include "bridges.h"
#include "control.h"
#include "ctdump.h"
#include "runtime.h"
#include "dbserver.h"
#include "health.h"
#include "resolve.h"
#include "lbengine.h"
#include "mainloop.h"
#include "moves.h"
#include "nbdb.h"
#include "oftls.h"
#include "rest.h"
#include "snat.h"
#include "speaker.h"
#include "mslb/model.h"
#include "mslb/modeldb.h"

VLOG_DEFINE_THIS_MODULE(mslbd);

/* The daemon: the top of the call graph.  It owns the loops, the model's
 * database, the bridge table and the REST server; the modules below get
 * what they need as arguments and answer through callbacks. */
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
    int reload_attempts;        /* Of the SIGHUP reload under way. */
    bool status_dirty;          /* Bridge_Status rows to refresh. */
    struct swfacts *swfacts;    /* What the switches reported. */
    struct rtfacts *rtfacts;    /* Runtime facts: failed backends. */
    struct lbengine *engine;    /* Model + facts -> desired tables. */
    uint64_t generation;        /* The generation the engine computed. */
    char *config_file;
    char *state_file;           /* --state: the database file. */
    struct bridges *bridges;
    struct moves *moves;        /* Ends slot moves (moves.h). */
    struct health *health;      /* Health monitors (health.h). */
    struct resolver *resolver;  /* Backend MAC discovery (resolve.h). */
    struct speaker *speaker;    /* BGP announcements (speaker.h), or NULL. */
    struct snat *snat;          /* Outbound port blocks (snat.h). */
    bool bgp_dirty;             /* What to announce may have changed. */
    bool master;                /* The database made us master. */
    struct runtime_sync runtime;        /* Health and MACs shared through
                                         * the database (runtime.h). */
    uint64_t status_seq;        /* nbdb_status_seq() update_bgp() saw. */
    struct rest_server *rest;
    struct rest_env rest_env;   /* What the REST server sees. */
    struct control *control;    /* ovs-appctl's socket (control.h). */
    struct ctdump *ctdump;      /* The local switch's conntrack (ctdump.h). */
};

/* Log modules of mslbd's own, for --verbose. */
static const char *const mslb_modules[] = {
    "mslbd", "bridges", "reconciler", "ofsession", "rest",
    "nbdb", "nbdb_write", "dbserver", "lbengine", "fragments", "moves",
    "health", "resolve", "speaker", "ctdump", "control", "snat", "pmtu",
};

/* Runs the engine if the model, the switch facts or the generation moved,
 * and hands the bridges their new tables. */

static void
run_engine(struct mslbd *d)
{
    uint64_t gen = nbdb_generation(d->nbdb);
    bool model = mdb_has_changes(d->mdb);

    if (model && d->health) {
        /* These may change the runtime facts. */
        resolver_sync(d->resolver, false);
        health_sync(d->health, false);
    }
    if (!d->master && d->health
        && (model || runtime_import_due(&d->runtime))) {
        runtime_import(&d->runtime);    /* A standby compiles the master's
                                         * facts. */
    }
    if (!model && !swfacts_has_changes(d->swfacts)
        && !rtfacts_has_changes(d->rtfacts) && gen == d->generation) {
        return;
    }
    if (!shash_is_empty(mdb_changed_bridges(d->mdb))) {
        bridges_model_changed(d->bridges);      /* Before the engine. */
    }
    lbengine_run(d->engine);
    d->status_dirty = true;
    d->bgp_dirty = true;
    if (model) {
        VLOG_INFO("model changed: generation %"PRIu64", %zu bridges, %zu "
                  "services", gen, mdb_n_bridges(d->mdb),
                  mdb_n_services(d->mdb));
    }
    d->generation = gen;
    bridges_publish(d->bridges, gen);
}

/* Bridge_Status rows: what each bridge has (nbdb writes only what
 * changed, a few times per second at most). */
static void
report_bridges(struct mslbd *d)
{
    for (size_t i = 0; i < bridges_count(d->bridges); i++) {
        const struct bridge *b = bridges_at(d->bridges, i);
        json_t *j = bridge_status_json(b);
        const char *dpid = json_string_value(json_object_get(j,
                                                             "datapath_id"));
        struct nbdb_bridge_status st = {
            /* What a standby's REST answers wait on: only bridges this
             * master writes to count as connected. */
            .connected = bridge_is_master(b) && bridge_is_connected(b),
            .dpid = dpid ? strtoull(dpid, NULL, 16) : 0,
            .openflow_version = json_string_value(
                json_object_get(j, "openflow_version")),
            .installed_generation = bridge_installed_generation(b),
            .desired_generation = d->generation,
            .flows = json_integer_value(json_object_get(j, "flows")),
            .groups = json_integer_value(json_object_get(j, "groups")),
        };
        nbdb_set_bridge_status(d->nbdb, bridge_name(b), &st);
        json_decref(j);
    }
}

static bool installed_view(void *d_, const struct bridge *, uint64_t *gen);

/* The VIPs this mslbd announces by BGP (docs/bgp.md): those of the
 * services with a usable backend (local: always) on at least one
 * first-stage bridge that its speaker speaks for and that is programmed:
 * connected to this mslbd and, as its master knows it, installed a
 * generation since it connected (a standby speaks for the muxes on its
 * host while another mslbd programs them). */
static void
update_bgp(struct mslbd *d)
{
    const struct model_service **svcs;
    struct sset want = SSET_INITIALIZER(&want);
    struct sset programmed = SSET_INITIALIZER(&programmed);
    struct sset checked = SSET_INITIALIZER(&checked);
    size_t n;

    d->bgp_dirty = false;
    svcs = mdb_services_sorted(d->mdb, &n);
    for (size_t i = 0; i < n; i++) {
        const struct model_service *svc = svcs[i];
        bool serves = false;
        char addr[INET6_ADDRSTRLEN];

        for (size_t k = 0; k < svc->n_bridges && !serves; k++) {
            const char *name = svc->bridges[k];

            if (sset_add(&checked, name)) {
                const struct bridge *b = bridges_find(d->bridges, name);
                uint64_t gen;

                if (b && speaker_speaks_for(d->speaker, name)
                    && installed_view(d, b, &gen) && gen > 0) {
                    sset_add(&programmed, name);
                }
            }
            serves = sset_contains(&programmed, name);
        }
        if (serves && (svc->mode == MODEL_MODE_LOCAL
                       || lbengine_usable_backends(d->engine, svc))) {
            /* The VIP, and the outbound address the answers to the
             * backends' own connections come back to. */
            const struct mslb_addr *addrs[2] = {
                &svc->vip, svc->outbound ? &svc->outbound->ip : NULL
            };
            for (size_t a = 0; a < 2 && addrs[a]; a++) {
                char *prefix;

                mslb_addr_format(addrs[a], addr, sizeof addr);
                prefix = xasprintf("%s/%d", addr,
                                   addrs[a]->family == AF_INET6 ? 128 : 32);
                sset_add(&want, prefix);
                free(prefix);
            }
        }
    }
    sset_destroy(&programmed);
    sset_destroy(&checked);
    free(svcs);
    speaker_set(d->speaker, &want);
    sset_destroy(&want);
}

/* Follows the database's decision of who is master (nbdb.h): asks the
 * switches for our role. */
static void
sync_role(struct mslbd *d)
{
    uint64_t gen;
    bool master = nbdb_is_master(d->nbdb, &gen);

    if (master != d->master) {
        if (master) {
            /* Start from the last master's findings (a standby has them
             * already; a fresh mslbd may be master before it read them),
             * so that the tables stay the ones the switches hold. */
            runtime_import(&d->runtime);
        }
        d->master = master;
        d->status_dirty = true;
        d->bgp_dirty = true;    /* Whose view of the bridges counts. */
        runtime_role_changed(&d->runtime);
        health_set_active(d->health, master);
        VLOG_INFO("%s: %s of the bridges (role generation %"PRIu64")",
                  nbdb_id(d->nbdb), master ? "master" : "standby", gen);
    }
    bridges_set_role(d->bridges, master, gen);
}

static void
db_run(void *d_)
{
    struct mslbd *d = d_;

    nbdb_run(d->nbdb);
    if (!d->model_ready) {
        return;
    }
    sync_role(d);
    run_engine(d);
    if (d->master) {
        runtime_export(&d->runtime);
    }
    if (d->moves) {
        moves_run(d->moves);
    }
    if (d->status_dirty) {
        d->status_dirty = false;
        report_bridges(d);
    }
    if (d->speaker && !d->master
        && nbdb_status_seq(d->nbdb) != d->status_seq) {
        /* The master reported what a bridge installed. */
        d->status_seq = nbdb_status_seq(d->nbdb);
        d->bgp_dirty = true;
    }
    if (d->speaker && d->bgp_dirty) {
        update_bgp(d);
    }
    if (d->rest) {
        rest_server_poll_waiters(d->rest);
    }
}

static void
db_wait(void *d_)
{
    struct mslbd *d = d_;
    nbdb_wait(d->nbdb);
}

/* A bridge installed a generation, connected or went away. */
static void
on_bridges_changed(void *d_)
{
    struct mslbd *d = d_;

    d->status_dirty = true;
    d->bgp_dirty = true;
    if (d->rest) {
        rest_server_poll_waiters(d->rest);
    }
}

/* A packet-in: a health probe's answer, or a neighbour's? */
static bool
on_packet_in(void *d_, const char *bridge, struct ofsession *s,
             const struct ofp_header *oh, enum ofptype type)
{
    struct mslbd *d = d_;
    return (d->snat && snat_handle_msg(d->snat, bridge, s, oh, type))
           || (d->health
               && (health_handle_msg(d->health, bridge, s, oh, type)
                   || resolver_handle_msg(d->resolver, bridge, s, oh,
                                          type)));
}

/* A switch has seen a higher role generation than our claim's (an
 * earlier database's): claim again above it. */
static void
on_stale_role(void *d_, uint64_t generation)
{
    struct mslbd *d = d_;
    nbdb_claim_above(d->nbdb, generation);
    poll_immediate_wake();
}

static const struct bridges_cbs bridges_cbs = {
    .changed = on_bridges_changed,
    .packet_in = on_packet_in,
    .stale_role = on_stale_role,
};

/* A backend's health or resolved MAC changed: the engine runs on the
 * loop's next turn. */
static void
on_health_changed(void *d_ OVS_UNUSED)
{
    poll_immediate_wake();
}

/* Logs go to stderr and, with --log-file, to that file, as
 * TIME|LEVEL|MODULE|message; to syslog only as --verbose=SPEC says
 * (e.g. syslog:info), OVS's way. */
static int
setup_logging(const char *log_file, bool verbose)
{
    static const char pattern[] = "%D{%Y-%m-%dT%H:%M:%S.###Z}|%p|%c|%m";

    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
    vlog_set_pattern(VLF_CONSOLE, pattern);
    vlog_set_pattern(VLF_FILE, pattern);
    if (verbose) {
        for (size_t i = 0; i < ARRAY_SIZE(mslb_modules); i++) {
            struct vlog_module *m = vlog_module_from_name(mslb_modules[i]);
            if (m) {            /* NULL would mean every module. */
                vlog_set_levels(m, VLF_ANY_DESTINATION, VLL_DBG);
            }
        }
    }
    return log_file ? vlog_set_log_file(log_file) : 0;
}

static void reload(struct mslbd *);

static void
on_reloaded(void *d_, enum nbdb_status status, uint64_t gen,
            const char *error)
{
    struct mslbd *d = d_;

    if (status == NBDB_OK) {
        VLOG_INFO("config %s loaded: generation %"PRIu64, d->config_file,
                  gen);
    } else if (status == NBDB_RETRY && ++d->reload_attempts < 10) {
        /* REST changed an object the reload touches: compute it again
         * from the model as it is now. */
        reload(d);
    } else {
        VLOG_ERR("config %s refused by the database: %s; keeping "
                 "generation %"PRIu64, d->config_file,
                 error ? error : "the model kept changing meanwhile, send "
                 "SIGHUP again", d->generation);
    }
}

/* SIGHUP: the config file becomes the model of the objects it names, and
 * objects it named before but no longer does go; objects created or changed
 * over REST are left as they are (see docs/config.md). */
static void
reload(struct mslbd *d)
{
    struct model *m;
    char *error;

    if (!d->config_file) {
        VLOG_WARN("SIGHUP: no config file to reload");
        return;
    }
    error = model_from_file(d->config_file, &m);
    if (error) {
        VLOG_ERR("config %s rejected: %s; keeping generation %"PRIu64,
                d->config_file, error, d->generation);
        free(error);
        return;
    }
    nbdb_import(d->nbdb, m, NBDB_SOURCE_CONFIG, on_reloaded, d);
    model_destroy(m);
}

/* Tells systemd (Type=notify) how mslbd stands, if it started mslbd:
 * one datagram to $NOTIFY_SOCKET, as sd_notify(3) sends. */
static char *notify_socket;     /* $NOTIFY_SOCKET, taken at start. */

static void
notify_systemd(const char *state)
{
    const char *path = notify_socket;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    socklen_t len;
    int fd;

    if (!path || !path[0] || strlen(path) >= sizeof sun.sun_path) {
        return;
    }
    strcpy(sun.sun_path, path);
    if (sun.sun_path[0] == '@') {
        sun.sun_path[0] = '\0';        /* The abstract namespace. */
    }
    len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
               (struct sockaddr *) &sun, len) < 0) {
        VLOG_WARN("NOTIFY_SOCKET %s: %s", path, ovs_strerror(errno));
    }
    close(fd);
}

/* SIGTERM, SIGINT, or "exit" on the control socket. */
static void
stop(void *d_)
{
    struct mslbd *d = d_;

    notify_systemd("STOPPING=1");
    bridges_close_listeners(d->bridges);
    rest_server_stop(d->rest);
    d->rest = NULL;
    mainloop_stop(d->mainloop);
}

static void
on_signal(uv_signal_t *handle, int signum)
{
    struct mslbd *d = handle->data;

    if (signum == SIGHUP) {
        d->reload_attempts = 0;
        reload(d);
    } else {
        VLOG_INFO("signal %d: exiting; bridges keep their flows", signum);
        stop(d);
    }
}

/* The generation bridge 'b' installed as this mslbd knows it: as the
 * switch confirmed it to us if we are its master, else as its master
 * reported it in Bridge_Status (docs/deployment.md); false if neither
 * knows it connected.  For the REST API and the control socket. */
static bool
installed_view(void *d_, const struct bridge *b, uint64_t *gen)
{
    struct mslbd *d = d_;

    if (bridge_is_master(b)) {
        *gen = bridge_installed_generation(b);
        return bridge_is_connected(b);
    }
    return bridge_is_connected(b)
           && nbdb_reported_installed(d->nbdb, bridge_name(b), gen);
}

static void
control_hook_run(void *d_)
{
    struct mslbd *d = d_;

    control_run(d->control);
    ctdump_run(d->ctdump);
}

static void
control_hook_wait(void *d_)
{
    struct mslbd *d = d_;

    control_wait(d->control);
    ctdump_wait(d->ctdump);
}

static const char *pidfile;

static void
remove_pidfile(void)
{
    if (pidfile) {
        unlink(pidfile);
    }
}

/* Writes the pid, complete, under 'file_name', and keeps the file locked
 * (an fcntl write lock, as OVS's daemons do) for as long as mslbd runs:
 * ovs-appctl -t mslbd trusts only a locked pidfile. */
/* The pid of the running process that holds 'file_name''s lock, or 0. */
static pid_t
pidfile_holder(const char *file_name)
{
    struct flock lck = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int fd = open(file_name, O_RDONLY | O_CLOEXEC);
    pid_t pid = 0;

    if (fd >= 0) {
        if (!fcntl(fd, F_GETLK, &lck) && lck.l_type != F_UNLCK) {
            pid = lck.l_pid;
        }
        close(fd);
    }
    return pid;
}

static int
write_pidfile(const char *file_name)
{
    struct flock lck = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    char tmp[4096], text[32];
    int fd, n;

    if (pidfile_holder(file_name)) {
        return EBUSY;           /* Checked at start: one came since. */
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", file_name);
    fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        return errno;
    }
    n = snprintf(text, sizeof text, "%ld\n", (long) getpid());
    if (fcntl(fd, F_SETLK, &lck) || write(fd, text, n) != n
        || rename(tmp, file_name)) {
        int error = errno;
        close(fd);
        unlink(tmp);
        return error;
    }
    return 0;                   /* 'fd' stays open: the lock with it. */
}

static void
usage(const char *name)
{
    printf("%s: the mslb load balancer controller\n"
           "usage: %s [--config FILE] [--db FILE | --db-remote REMOTE] "
           "[OPTIONS]\n"
           "  -c, --config FILE     bridges and services to load (JSON)\n"
           "      --db FILE         the model's OVSDB database file, kept "
           "across\n"
           "                        restarts (mslbd runs ovsdb-server on it)\n"
           "      --db-remote R     use the database at R (unix:PATH, "
           "tcp:IP:PORT;\n"
           "                        a clustered one: the members, "
           "comma-separated)\n"
           "      --name NAME       this mslbd's name in the database "
           "(default\n"
           "                        HOST:PID); mslbd sharing a database "
           "elect one\n"
           "                        master of the bridges "
           "(docs/deployment.md)\n"
           "  -s, --state FILE      like --db FILE; an old JSON state file "
           "there is\n"
           "                        imported once\n"
           "  -l, --listen TARGET   ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH "
           "(repeatable)\n"
           "  -C, --connect TARGET  tcp:IP:PORT, ssl:IP:PORT or unix:PATH "
           "(repeatable)\n"
           "      --private-key FILE, --certificate FILE, --ca-cert FILE\n"
           "                        OpenFlow over TLS (pssl:, ssl:): this "
           "mslbd's key\n"
           "                        and certificate, the CA of the "
           "switches' certificates\n"
           "      --pidfile FILE    write the process id to FILE\n"
           "      --log-file FILE   also log to FILE\n"
           "      --check           validate the config and exit\n"
           "      --rest [IP:]PORT  serve the REST API (IP default 127.0.0.1)\n"
           "      --rest-token-file FILE  require this bearer token\n"
           "      --rest-cert FILE, --rest-key FILE  serve HTTPS\n"
           "      --announce-interval SECONDS  gratuitous ARP / unsolicited "
           "NA for\n"
           "                        every VIP and gateway, and final stages' "
           "probes\n"
           "                        of their servers, spread over this "
           "interval\n"
           "                        (default 30; 0: off)\n"
           "      --bgp FILE        announce the VIPs by BGP: run FRR's bgpd "
           "with the\n"
           "                        sessions FILE describes (docs/bgp.md)\n"
           "      --unixctl PATH    the control socket for ovs-appctl "
           "(default\n"
           "                        mslbd.PID.ctl beside --pidfile)\n"
           "  -v, --verbose         debug logging\n"
           "      --verbose=SPEC    OVS's log levels, e.g. syslog:info,\n"
           "                        reconciler:file:dbg (repeatable)\n"
           "      --version         print the version and exit\n"
           "With no --listen or --connect, listens on ptcp:6653:127.0.0.1.\n"
           "With no --db, --state or --db-remote, the model lives in a "
           "database that\n"
           "is thrown away at exit (next to --pidfile, or in /tmp) and is "
           "loaded from\n"
           "--config.  A database that already holds a model ignores "
           "--config at\n"
           "start; SIGHUP applies --config (docs/config.md).\n",
           name, name);
}

/* What the file at 'name' holds. */
enum state_kind { STATE_NONE, STATE_OVSDB, STATE_JSON, STATE_DAMAGED };

static enum state_kind
state_kind(const char *name, struct model **mp, char **errorp)
{
    char head[16] = "";
    FILE *f = fopen(name, "r");

    *mp = NULL;
    *errorp = NULL;
    if (!f) {
        return STATE_NONE;
    }
    if (!fgets(head, sizeof head, f)) {
        head[0] = '\0';
    }
    fclose(f);
    if (!strncmp(head, "OVSDB ", 6)) {
        return STATE_OVSDB;
    }
    *errorp = model_from_file(name, mp);
    return *errorp ? STATE_DAMAGED : STATE_JSON;
}

static void
on_imported(void *d_, enum nbdb_status status, uint64_t gen,
            const char *error)
{
    struct mslbd *d = d_;

    if (status != NBDB_OK) {
        VLOG_ERR("cannot load the model into the database: %s",
                error ? error : "it changed meanwhile");
        d->exit_code = 1;
        mainloop_stop(d->mainloop);
        return;
    }
    VLOG_INFO("model loaded into the database: generation %"PRIu64, gen);
    d->import_gen = gen;
    d->import_done = true;
}

static bool
db_is_ready(void *d_)
{
    struct mslbd *d = d_;
    return nbdb_is_ready(d->nbdb) || d->exit_code;
}

/* The import committed, and the database's news of it arrived. */
static bool
import_is_done(void *d_)
{
    struct mslbd *d = d_;
    return (d->import_done && nbdb_generation(d->nbdb) >= d->import_gen)
           || d->exit_code;
}

int
main(int argc, char *argv[])
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "connect", required_argument, NULL, 'C' },
        { "pidfile", required_argument, NULL, 'p' },
        { "log-file", required_argument, NULL, 'L' },
        { "check", no_argument, NULL, 'k' },
        { "verbose", optional_argument, NULL, 'v' },
        { "state", required_argument, NULL, 's' },
        { "db", required_argument, NULL, 'D' },
        { "db-remote", required_argument, NULL, 'B' },
        { "rest", required_argument, NULL, 'R' },
        { "rest-token-file", required_argument, NULL, 'T' },
        { "rest-cert", required_argument, NULL, 'E' },
        { "rest-key", required_argument, NULL, 'K' },
        { "announce-interval", required_argument, NULL, 'A' },
        { "bgp", required_argument, NULL, 'G' },
        { "name", required_argument, NULL, 'N' },
        { "unixctl", required_argument, NULL, 'U' },
        { "private-key", required_argument, NULL, 'P' },
        { "certificate", required_argument, NULL, 'X' },
        { "ca-cert", required_argument, NULL, 'Y' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listens[32], *connects[32], *log_file = NULL;
    size_t n_listens = 0, n_connects = 0;
    struct mslbd d = { .generation = 0 };
    uv_signal_t sighup, sigterm, sigint;
    bool check = false, verbose = false;
    const char *vlog_specs[16];     /* --verbose=SPEC, in order. */
    size_t n_vlog_specs = 0;
    char *error;
    int opt;
    const char *rest_listen = NULL, *token_file = NULL;
    const char *db_file = NULL, *db_remote = NULL, *bgp_file = NULL;
    const char *name = NULL, *unixctl_path = NULL;
    const char *tls_key = NULL, *tls_cert = NULL, *tls_ca = NULL;
    char *tmp_dir = NULL;
    struct rest_options ro = {
        .max_body = 1024 * 1024,
    };
    struct model *config = NULL, *legacy = NULL;
    unsigned int announce_s = BRIDGES_ANNOUNCE_DEFAULT;

    ovs_set_program_name(argv[0], MSLB_VERSION);
    /* systemd's socket is mslbd's alone: ovsdb-server and bgpd, its
     * children, must not notify on its behalf (NotifyAccess=main). */
    if (getenv("NOTIFY_SOCKET")) {
        notify_socket = xstrdup(getenv("NOTIFY_SOCKET"));
        unsetenv("NOTIFY_SOCKET");
    }
    while ((opt = getopt_long(argc, argv, "c:l:C:s:v::h", options, NULL))
           != -1) {
        switch (opt) {
        case 'c': d.config_file = optarg; break;
        case 'l':
            if (n_listens < ARRAY_SIZE(listens)) {
                listens[n_listens++] = optarg;
            }
            break;
        case 'C':
            if (n_connects < ARRAY_SIZE(connects)) {
                connects[n_connects++] = optarg;
            }
            break;
        case 'p': pidfile = optarg; break;
        case 'L': log_file = optarg; break;
        case 'k': check = true; break;
        case 'v':
            if (!optarg) {
                verbose = true;
            } else if (n_vlog_specs < ARRAY_SIZE(vlog_specs)) {
                vlog_specs[n_vlog_specs++] = optarg;
            }
            break;
        case 's': d.state_file = optarg; break;
        case 'D': db_file = optarg; break;
        case 'B': db_remote = optarg; break;
        case 'R': rest_listen = optarg; break;
        case 'T': token_file = optarg; break;
        case 'E': ro.cert_file = optarg; break;
        case 'K': ro.key_file = optarg; break;
        case 'G': bgp_file = optarg; break;
        case 'N': name = optarg; break;
        case 'U': unixctl_path = optarg; break;
        case 'P': tls_key = optarg; break;
        case 'X': tls_cert = optarg; break;
        case 'Y': tls_ca = optarg; break;
        case 'V':
            printf("mslbd (mslb) %s\n", MSLB_VERSION);
            return 0;
        case 'A': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || v > 86400 || optarg[0] == '-') {
                fprintf(stderr, "mslbd: --announce-interval %s: must be "
                        "an integer from 0 to 86400 (seconds)\n", optarg);
                return 2;
            }
            announce_s = v;
            break;
        }
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 2;
        }
    }
    if (optind != argc || (check && !d.config_file)
        || (!!db_file + !!db_remote + !!d.state_file > 1)) {
        usage(argv[0]);
        return 2;
    }

    if (d.config_file && strcmp(d.config_file, "/dev/null")) {
        error = model_from_file(d.config_file, &config);
        if (error) {
            fprintf(stderr, "mslbd: config %s rejected: %s\n",
                    d.config_file, error);
            free(error);
            return 1;
        }
    }
    if (check) {
        printf("mslbd: config %s is valid: %zu bridges, %zu services\n",
               d.config_file, config ? config->n_bridges : 0,
               config ? config->n_services : 0);
        model_destroy(config);
        return 0;
    }
    if (pidfile) {
        pid_t other = pidfile_holder(pidfile);
        if (other) {
            fprintf(stderr, "mslbd: %s: mslbd %ld is running with this "
                    "pidfile\n", pidfile, (long) other);
            model_destroy(config);
            return 1;
        }
    }
    if (d.state_file) {
        /* --state: the database file, or an old JSON state to import. */
        enum state_kind k = state_kind(d.state_file, &legacy, &error);
        if (k == STATE_DAMAGED) {
            fprintf(stderr, "mslbd: state file %s is damaged: %s; refusing "
                    "to start and leaving the file untouched (fix it or "
                    "move it away)\n", d.state_file, error);
            free(error);
            return 1;
        }
        if (k == STATE_JSON) {
            char *saved = xasprintf("%s.imported", d.state_file);
            if (rename(d.state_file, saved)) {
                fprintf(stderr, "mslbd: cannot move %s aside: %s\n",
                        d.state_file, strerror(errno));
                return 1;
            }
            fprintf(stderr, "mslbd: importing the old state file %s (kept "
                    "as %s) into the database\n", d.state_file, saved);
            free(saved);
        }
        db_file = d.state_file;
    }
    int log_err = setup_logging(log_file, verbose);
    if (log_err) {
        fprintf(stderr, "mslbd: %s: %s\n", log_file, strerror(log_err));
        return 1;
    }
    for (size_t i = 0; i < n_vlog_specs; i++) {
        char *bad = vlog_set_levels_from_string(vlog_specs[i]);
        if (bad) {
            fprintf(stderr, "mslbd: --verbose=%s: %s\n", vlog_specs[i], bad);
            free(bad);
            return 2;
        }
    }

    d.loop = uv_default_loop();
    /* Before any uv_signal: see mainloop.h. */
    d.mainloop = mainloop_create(d.loop);

    /* The database: ours on a file, or someone's remote. */
    bool throwaway = !db_file && !db_remote;
    char *owned_db = NULL;
    if (throwaway) {
        if (pidfile) {
            char *copy = xstrdup(pidfile);
            tmp_dir = xasprintf("%s/mslbd-db", dirname(copy));
            free(copy);
            mkdir(tmp_dir, 0700);
        } else {
            tmp_dir = xstrdup("/tmp/mslbd-db.XXXXXX");
            if (!mkdtemp(tmp_dir)) {
                fprintf(stderr, "mslbd: mkdtemp: %s\n", strerror(errno));
                return 1;
            }
        }
        owned_db = xasprintf("%s/mslb.db", tmp_dir);
        unlink(owned_db);       /* A leftover of a killed mslbd. */
        db_file = owned_db;
    }
    struct dbserver_options dbo = {
        .db_file = db_remote ? NULL : db_file,
        .remote = db_remote,
    };
    error = dbserver_start(d.loop, &dbo, &d.dbserver);
    if (error) {
        if (d.state_file) {
            fprintf(stderr, "mslbd: state file %s is damaged: %s; refusing "
                    "to start and leaving the file untouched (fix it or "
                    "move it away)\n", d.state_file, error);
        } else {
            fprintf(stderr, "mslbd: database: %s\n", error);
        }
        free(error);
        return 1;
    }
    d.mdb = mdb_create();
    char *default_name = NULL;
    if (!name) {
        char host[256] = "mslbd";

        gethostname(host, sizeof host - 1);
        name = default_name = xasprintf("%s:%ld", host, (long) getpid());
    }
    d.nbdb = nbdb_create(dbserver_remote(d.dbserver), d.mdb, name);
    mainloop_add_hook(d.mainloop, &(struct mainloop_hook) {
        db_run, db_wait, &d
    });
    if (!mainloop_run_until(d.mainloop, db_is_ready, &d, 30000)
        || d.exit_code) {
        VLOG_ERR("the database at %s did not answer within 30 s",
                dbserver_remote(d.dbserver));
        return 1;
    }

    /* Seed: the old state, or the config into a new or throwaway database;
     * a database that holds a model keeps it. */
    struct model *seed = legacy ? legacy
                         : config && (throwaway || nbdb_is_empty(d.nbdb))
                         ? config : NULL;
    if (seed) {
        nbdb_import(d.nbdb, seed, legacy ? NBDB_SOURCE_API
                    : NBDB_SOURCE_CONFIG, on_imported, &d);
        if (!mainloop_run_until(d.mainloop, import_is_done, &d, 600000)
            || d.exit_code) {
            VLOG_ERR("cannot load the model into the database");
            return 1;
        }
    }
    d.model_ready = true;
    d.swfacts = swfacts_create();
    d.rtfacts = rtfacts_create();
    d.engine = lbengine_create(d.mdb, d.swfacts, d.rtfacts);
    lbengine_run(d.engine);
    d.generation = nbdb_generation(d.nbdb);
    d.bridges = bridges_create(d.loop, d.mdb, d.swfacts, d.engine,
                               &bridges_cbs, &d);
    d.moves = moves_create(d.nbdb, d.mdb, d.bridges);
    d.snat = snat_create(d.mdb, d.nbdb);
    d.resolver = resolver_create(d.loop, d.mdb, d.rtfacts, d.bridges,
                                 d.engine, on_health_changed, &d);
    resolver_sync(d.resolver, true);
    d.health = health_create(d.loop, d.mdb, d.rtfacts, d.bridges, d.engine,
                             d.resolver, on_health_changed, &d);
    health_sync(d.health, true);
    runtime_sync_init(&d.runtime, d.nbdb, d.health, d.resolver);
    bridges_set_announce_interval(d.bridges, announce_s);
    if (bgp_file) {
        d.speaker = speaker_create(d.loop, bgp_file, &error);
        if (!d.speaker) {
            VLOG_ERR("--bgp: %s", error);
            free(error);
            return 1;
        }
        d.bgp_dirty = true;
    }
    d.rest_env = (struct rest_env) {
        .loop = d.loop,
        .mdb = d.mdb,
        .nbdb = d.nbdb,
        .started_ms = uv_hrtime() / 1000000,
        .bridges = d.bridges,
        .health = d.health,
        .resolver = d.resolver,
        .speaker = d.speaker,
        .snat = d.snat,
        .ctdump = d.ctdump = ctdump_create(),
        .installed = installed_view,
        .aux = &d,
    };

    VLOG_INFO("mslbd starting: model from %s, generation %"PRIu64", %zu "
             "bridges, %zu services", seed == legacy && legacy
             ? d.state_file : seed ? d.config_file
             : db_remote ? db_remote : db_file, d.generation,
             mdb_n_bridges(d.mdb), mdb_n_services(d.mdb));
    model_destroy(config);
    model_destroy(legacy);

    if (!n_listens && !n_connects) {
        listens[n_listens++] = "ptcp:6653:127.0.0.1";
    }
    if (tls_key || tls_cert || tls_ca) {
        if ((error = oftls_configure(tls_key, tls_cert, tls_ca))) {
            VLOG_ERR("TLS: %s", error);
            return 1;
        }
    }
    for (size_t i = 0; i < n_listens; i++) {
        if ((error = bridges_listen(d.bridges, listens[i]))) {
            VLOG_ERR("cannot listen: %s", error);
            return 1;
        }
    }
    for (size_t i = 0; i < n_connects; i++) {
        if ((error = bridges_connect(d.bridges, connects[i]))) {
            VLOG_ERR("cannot connect: %s", error);
            return 1;
        }
    }

    char *token = NULL, *listen = NULL;
    if (rest_listen) {
        listen = strchr(rest_listen, ':')
                       ? xstrdup(rest_listen)
                       : xasprintf("127.0.0.1:%s", rest_listen);
        if (token_file) {
            FILE *f = fopen(token_file, "r");
            char buf[512];
            if (!f || !fgets(buf, sizeof buf, f)) {
                VLOG_ERR("cannot read token file %s", token_file);
                return 1;
            }
            fclose(f);
            buf[strcspn(buf, "\r\n")] = '\0';
            if (!buf[0]) {
                VLOG_ERR("token file %s is empty", token_file);
                return 1;
            }
            token = xstrdup(buf);
        }
        ro.listen = listen;
        ro.token = token;
        if ((error = rest_server_start(&d.rest_env, &ro, &d.rest))) {
            VLOG_ERR("cannot start the REST API: %s", error);
            return 1;
        }
    }

    struct control_env ce = {
        .nbdb = d.nbdb, .ctdump = d.ctdump, .mdb = d.mdb,
        .bridges = d.bridges, .installed = installed_view, .exit = stop,
        .aux = &d,
    };
    if ((error = control_start(unixctl_path, pidfile, &ce, &d.control))) {
        if (unixctl_path || pidfile) {
            VLOG_ERR("%s", error);
            return 1;
        }
        /* Nowhere was asked for, and OVS's run directory is not ours. */
        VLOG_WARN("%s: no control socket (give --pidfile or --unixctl)",
                  error);
        free(error);
        d.control = NULL;
    }
    mainloop_add_hook(d.mainloop, &(struct mainloop_hook) {
        control_hook_run, control_hook_wait, &d
    });

    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(d.loop, &sighup);
    uv_signal_init(d.loop, &sigterm);
    uv_signal_init(d.loop, &sigint);
    sighup.data = sigterm.data = sigint.data = &d;
    uv_signal_start(&sighup, on_signal, SIGHUP);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);

    if (pidfile) {
        int err = write_pidfile(pidfile);
        if (err) {
            VLOG_ERR("%s: %s", pidfile, strerror(err));
            return 1;
        }
        atexit(remove_pidfile);
    }
    /* Serving: the database read, listeners, REST and control socket up. */
    char *ready = xasprintf("READY=1\nMAINPID=%ld\nSTATUS=generation %"
                            PRIu64", %zu bridges, %zu services",
                            (long) getpid(), d.generation,
                            mdb_n_bridges(d.mdb), mdb_n_services(d.mdb));
    notify_systemd(ready);
    free(ready);
    mainloop_run(d.mainloop);

    ctdump_destroy(d.ctdump);   /* Answers a trace under way. */
    control_destroy(d.control);
    speaker_destroy(d.speaker);         /* Withdraws everything. */
    snat_destroy(d.snat);
    bridges_destroy(d.bridges);     /* Its collections under way call
                                     * back the modules below. */
    moves_destroy(d.moves);
    health_destroy(d.health);
    resolver_destroy(d.resolver);
    lbengine_destroy(d.engine);
    swfacts_destroy(d.swfacts);
    rtfacts_destroy(d.rtfacts);
    nbdb_destroy(d.nbdb);
    dbserver_destroy(d.dbserver);
    uv_run(d.loop, UV_RUN_NOWAIT);      /* Close callbacks. */
    if (throwaway) {
        /* The database and what ovsdb-server kept beside it (its lock,
         * log, socket): the directory is mslbd's own. */
        DIR *dir = opendir(tmp_dir);
        struct dirent *de;

        while (dir && (de = readdir(dir))) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                char *f = xasprintf("%s/%s", tmp_dir, de->d_name);
                unlink(f);
                free(f);
            }
        }
        if (dir) {
            closedir(dir);
        }
        rmdir(tmp_dir);
    }
    mdb_destroy(d.mdb);
    mainloop_destroy(d.mainloop);
    free(token);
    free(listen);
    free(owned_db);
    free(tmp_dir);
    free(default_name);
    return d.exit_code;
}
