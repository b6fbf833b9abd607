/* The BGP speaker: FRR's bgpd as mslbd's child (speaker.h). */
#include <config.h>
#include "speaker.h"
#include "child.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(speaker);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

#define RESTART_MS 1000         /* bgpd exited: start it again after. */
#define RETRY_MS 250            /* vtysh failed (bgpd not ready yet?). */
#define MAX_CHANGES 1000        /* Prefixes per vtysh run. */

struct peer {
    char addr[INET6_ADDRSTRLEN];
    bool v6;
    uint32_t asn;
    unsigned int hold_time;     /* 0: FRR's default. */
    unsigned int port;          /* 0: 179. */
};

struct speaker {
    uv_loop_t *loop;
    char *file;                 /* Where the configuration came from. */
    uint32_t asn;
    char router_id[INET_ADDRSTRLEN];
    struct peer *peers;
    size_t n_peers;
    char next_hop[INET_ADDRSTRLEN];     /* "": the session's address. */
    char next_hop6[INET6_ADDRSTRLEN];
    unsigned int listen_port;
    struct sset bridges;        /* Announce for these bridges only; empty:
                                 * for every first-stage bridge. */
    char *run_dir, *conf, *pidfile, *log_file, *bgpd, *vtysh;

    uv_process_t *bgpd_proc;    /* NULL while not running. */
    uv_process_t *vtysh_proc;   /* NULL while no update is under way. */
    uv_timer_t *timer;          /* Restart of bgpd, or retry of vtysh. */
    int n_handles;              /* Open libuv handles (freed on close). */
    bool stopping;
    unsigned int starts;

    struct sset want;           /* What mslbd wants announced. */
    struct sset have;           /* What bgpd was told and took. */
    struct sset adding, removing;       /* The vtysh run under way. */
};

/* ---- The file. ---- */

static char * OVS_WARN_UNUSED_RESULT
field_error(const char *path, const char *field, const char *what)
{
    return xasprintf("%s: %s: %s", path, field, what);
}

static char *
get_uint(const json_t *o, const char *path, const char *key, bool required,
         unsigned long long min, unsigned long long max,
         unsigned long long *out)
{
    const json_t *v = json_object_get(o, key);
    char *error = NULL;

    if (!v) {
        return required ? field_error(path, key, "is required") : NULL;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0
        || (unsigned long long) json_integer_value(v) < min
        || (unsigned long long) json_integer_value(v) > max) {
        char what[96];
        snprintf(what, sizeof what, "must be an integer from %llu to %llu",
                 min, max);
        return field_error(path, key, what);
    }
    *out = json_integer_value(v);
    return error;
}

static char *
get_string(const json_t *o, const char *path, const char *key,
           const char *dflt, char **out)
{
    const json_t *v = json_object_get(o, key);

    if (v && (!json_is_string(v) || !json_string_value(v)[0])) {
        return field_error(path, key, "must be a non-empty string");
    }
    *out = xstrdup(v ? json_string_value(v) : dflt);
    return NULL;
}

static char *
check_keys(const json_t *o, const char *path, const char *const *keys)
{
    const char *key;
    json_t *v;

    json_object_foreach ((json_t *) o, key, v) {
        bool known = false;
        for (size_t i = 0; keys[i] && !known; i++) {
            known = !strcmp(key, keys[i]);
        }
        if (!known) {
            return field_error(path, key, "unknown key");
        }
    }
    return NULL;
}

static char *
parse(struct speaker *sp, const json_t *j, const char *path)
{
    static const char *const keys[] = {
        "asn", "router_id", "peers", "next_hop", "next_hop6", "listen_port",
        "run_dir", "bgpd", "vtysh", "bridges", NULL
    };
    static const char *const peer_keys[] = {
        "address", "asn", "hold_time", "port", NULL
    };
    const json_t *peers, *rid;
    unsigned long long n;
    struct in_addr a4;
    char *error;

    if (!json_is_object(j)) {
        return xasprintf("%s: must be a JSON object", path);
    }
    if ((error = check_keys(j, path, keys))
        || (error = get_uint(j, path, "asn", true, 1, UINT32_MAX, &n))) {
        return error;
    }
    sp->asn = n;
    rid = json_object_get(j, "router_id");
    if (!json_is_string(rid)
        || inet_pton(AF_INET, json_string_value(rid), &a4) != 1) {
        return field_error(path, "router_id", "must be an IPv4 address "
                           "(the BGP identifier)");
    }
    inet_ntop(AF_INET, &a4, sp->router_id, sizeof sp->router_id);
    const json_t *nh = json_object_get(j, "next_hop");
    if (nh) {
        if (!json_is_string(nh)
            || inet_pton(AF_INET, json_string_value(nh), &a4) != 1) {
            return field_error(path, "next_hop", "must be an IPv4 address");
        }
        inet_ntop(AF_INET, &a4, sp->next_hop, sizeof sp->next_hop);
    }
    nh = json_object_get(j, "next_hop6");
    if (nh) {
        struct in6_addr a6;
        if (!json_is_string(nh)
            || inet_pton(AF_INET6, json_string_value(nh), &a6) != 1) {
            return field_error(path, "next_hop6", "must be an IPv6 address");
        }
        inet_ntop(AF_INET6, &a6, sp->next_hop6, sizeof sp->next_hop6);
    }
    n = 0;
    if ((error = get_uint(j, path, "listen_port", false, 0, 65535, &n))) {
        return error;
    }
    sp->listen_port = n;
    if ((error = get_string(j, path, "run_dir", "/run/mslb-bgp",
                            &sp->run_dir))
        || (error = get_string(j, path, "bgpd", "/usr/lib/frr/bgpd",
                               &sp->bgpd))
        || (error = get_string(j, path, "vtysh", "/usr/bin/vtysh",
                               &sp->vtysh))) {
        return error;
    }
    const json_t *bridges = json_object_get(j, "bridges");
    if (bridges) {
        size_t i;
        const json_t *b;

        if (!json_is_array(bridges) || !json_array_size(bridges)) {
            return field_error(path, "bridges", "must be a non-empty array "
                               "of bridge names");
        }
        json_array_foreach (bridges, i, b) {
            if (!json_is_string(b) || !json_string_value(b)[0]) {
                return xasprintf("%s: bridges[%zu]: must be a bridge name",
                                 path, i);
            }
            sset_add(&sp->bridges, json_string_value(b));
        }
    }
    peers = json_object_get(j, "peers");
    if (!json_is_array(peers) || !json_array_size(peers)) {
        return field_error(path, "peers", "must be a non-empty array");
    }
    sp->n_peers = json_array_size(peers);
    sp->peers = xcalloc(sp->n_peers, sizeof *sp->peers);
    for (size_t i = 0; i < sp->n_peers; i++) {
        const json_t *p = json_array_get(peers, i);
        struct peer *peer = &sp->peers[i];
        char sub[64];
        struct in6_addr a6;
        const json_t *addr;

        snprintf(sub, sizeof sub, "%s: peers[%zu]", path, i);
        if (!json_is_object(p)) {
            return xasprintf("%s: must be an object", sub);
        }
        if ((error = check_keys(p, sub, peer_keys))) {
            return error;
        }
        addr = json_object_get(p, "address");
        if (json_is_string(addr)
            && inet_pton(AF_INET, json_string_value(addr), &a4) == 1) {
            inet_ntop(AF_INET, &a4, peer->addr, sizeof peer->addr);
        } else if (json_is_string(addr)
                   && inet_pton(AF_INET6, json_string_value(addr), &a6)
                      == 1) {
            inet_ntop(AF_INET6, &a6, peer->addr, sizeof peer->addr);
            peer->v6 = true;
        } else {
            return field_error(sub, "address", "must be an IPv4 or IPv6 "
                               "address");
        }
        for (size_t k = 0; k < i; k++) {
            if (!strcmp(sp->peers[k].addr, peer->addr)) {
                return field_error(sub, "address", "is another peer's");
            }
        }
        if ((error = get_uint(p, sub, "asn", true, 1, UINT32_MAX, &n))) {
            return error;
        }
        peer->asn = n;
        n = 0;
        if ((error = get_uint(p, sub, "hold_time", false, 3, 65535, &n))) {
            return error;
        }
        peer->hold_time = n;
        n = 0;
        if ((error = get_uint(p, sub, "port", false, 1, 65535, &n))) {
            return error;
        }
        peer->port = n;
    }
    return NULL;
}

/* bgpd's configuration: the sessions, and nothing announced yet (mslbd
 * announces through vtysh).  No zebra, so no RIB to check a network
 * against ("no bgp network import-check"); eBGP sends without a policy
 * (the routers filter what they take). */
static char *
write_conf(const struct speaker *sp)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    char *error = NULL;
    FILE *f;

    ds_put_format(&s, "! Written by mslbd from %s: do not edit.\n"
                  "frr defaults datacenter\n", sp->file);
    /* The next hop the routers get: the first stage's address on their
     * link, when the sessions run elsewhere. */
    if (sp->next_hop[0]) {
        ds_put_format(&s, "route-map mslb-nh permit 10\n"
                      " set ip next-hop %s\n", sp->next_hop);
    }
    if (sp->next_hop6[0]) {
        ds_put_format(&s, "route-map mslb-nh6 permit 10\n"
                      " set ipv6 next-hop global %s\n", sp->next_hop6);
    }
    ds_put_format(&s, "router bgp %"PRIu32"\n"
                  " bgp router-id %s\n"
                  " no bgp ebgp-requires-policy\n"
                  " no bgp network import-check\n",
                  sp->asn, sp->router_id);
    for (size_t i = 0; i < sp->n_peers; i++) {
        const struct peer *p = &sp->peers[i];

        ds_put_format(&s, " neighbor %s remote-as %"PRIu32"\n", p->addr,
                      p->asn);
        if (p->hold_time) {
            ds_put_format(&s, " neighbor %s timers %u %u\n", p->addr,
                          MAX(1, p->hold_time / 3), p->hold_time);
        }
        if (p->port) {
            ds_put_format(&s, " neighbor %s port %u\n", p->addr, p->port);
        }
    }
    /* IPv4 VIPs to the IPv4 peers, IPv6 VIPs to the IPv6 ones. */
    ds_put_cstr(&s, " address-family ipv4 unicast\n");
    for (size_t i = 0; i < sp->n_peers; i++) {
        if (sp->peers[i].v6) {
            ds_put_format(&s, "  no neighbor %s activate\n",
                          sp->peers[i].addr);
        } else if (sp->next_hop[0]) {
            ds_put_format(&s, "  neighbor %s route-map mslb-nh out\n",
                          sp->peers[i].addr);
        }
    }
    ds_put_cstr(&s, " exit-address-family\n"
                " address-family ipv6 unicast\n");
    for (size_t i = 0; i < sp->n_peers; i++) {
        if (sp->peers[i].v6) {
            ds_put_format(&s, "  neighbor %s activate\n", sp->peers[i].addr);
            if (sp->next_hop6[0]) {
                ds_put_format(&s, "  neighbor %s route-map mslb-nh6 out\n",
                              sp->peers[i].addr);
            }
        }
    }
    ds_put_cstr(&s, " exit-address-family\n");

    f = fopen(sp->conf, "w");
    if (!f || fputs(ds_cstr(&s), f) == EOF || fclose(f)) {
        error = xasprintf("%s: cannot write: %s", sp->conf,
                          ovs_strerror(errno));
    }
    ds_destroy(&s);
    return error;
}

/* ---- Children. ---- */

static void
speaker_free(struct speaker *sp)
{
    sset_destroy(&sp->bridges);
    sset_destroy(&sp->want);
    sset_destroy(&sp->have);
    sset_destroy(&sp->adding);
    sset_destroy(&sp->removing);
    free(sp->peers);
    free(sp->file);
    free(sp->run_dir);
    free(sp->conf);
    free(sp->pidfile);
    free(sp->log_file);
    free(sp->bgpd);
    free(sp->vtysh);
    free(sp);
}

static void
handle_closed(uv_handle_t *h)
{
    struct speaker *sp = h->data;

    free(h);
    if (!--sp->n_handles && sp->stopping) {
        speaker_free(sp);
    }
}

static uv_process_t *
spawn(struct speaker *sp, char **argv, uv_exit_cb exit_cb)
{
    /* Its output goes to its log; none inherited (a child outliving
     * mslbd must not hold the pipes of whoever reads mslbd's). */
    uv_stdio_container_t stdio[3] = {
        { .flags = UV_IGNORE }, { .flags = UV_IGNORE },
        { .flags = UV_IGNORE },
    };
    uv_process_options_t po = {
        .exit_cb = exit_cb,
        .file = argv[0],
        .args = argv,
        .stdio_count = 3,
        .stdio = stdio,
    };
    uv_process_t *p = xzalloc(sizeof *p);
    int err;

    p->data = sp;
    sp->n_handles++;
    child_private_fds();
    err = uv_spawn(sp->loop, p, &po);
    if (err) {
        VLOG_WARN_RL(&rl, "cannot run %s: %s", argv[0], uv_strerror(err));
        uv_close((uv_handle_t *) p, handle_closed);    /* Initialized. */
        return NULL;
    }
    return p;
}

static void kick(struct speaker *);
static void start_bgpd(struct speaker *);

static void
on_timer(uv_timer_t *t)
{
    struct speaker *sp = t->data;

    if (!sp->bgpd_proc) {
        start_bgpd(sp);
    }
    kick(sp);
}

static void
on_bgpd_exit(uv_process_t *p, int64_t status, int term_signal)
{
    struct speaker *sp = p->data;

    sp->bgpd_proc = NULL;
    uv_close((uv_handle_t *) p, handle_closed);
    if (sp->stopping) {
        return;
    }
    VLOG_WARN("bgpd exited (status %"PRId64", signal %d): its sessions are "
              "down; starting it again in %d ms (its log: %s)", status,
              term_signal, RESTART_MS, sp->log_file);
    sset_clear(&sp->have);      /* It announces nothing now. */
    uv_timer_start(sp->timer, on_timer, RESTART_MS, 0);
}

static void
start_bgpd(struct speaker *sp)
{
    char *conf = xasprintf("--config_file=%s", sp->conf);
    char *pid = xasprintf("--pid_file=%s", sp->pidfile);
    char *vty = xasprintf("--vty_socket=%s", sp->run_dir);
    char *log = xasprintf("--log=file:%s", sp->log_file);
    char *port = xasprintf("--bgp_port=%u", sp->listen_port);
    /* Through util-linux's setpriv: bgpd gets SIGKILL when mslbd dies,
     * however it dies, and the kernel closes its sessions at once (a
     * SIGTERM'd bgpd takes a second or more to say goodbye). */
    static const char setpriv[] = "/usr/bin/setpriv";
    bool pdeath = !access(setpriv, X_OK);
    char *args[] = { (char *) setpriv, "--pdeathsig", "KILL", "--",
                     sp->bgpd, "--no_zebra", "--skip_runas", conf, pid, vty,
                     log, port, "--vty_port=0", NULL };

    sp->starts++;
    sp->bgpd_proc = spawn(sp, pdeath ? args : args + 4, on_bgpd_exit);
    if (sp->bgpd_proc) {
        VLOG_INFO("bgpd %d started: AS %"PRIu32", router-id %s, %zu peers "
                  "(config %s)", sp->bgpd_proc->pid, sp->asn, sp->router_id,
                  sp->n_peers, sp->conf);
    } else {
        uv_timer_start(sp->timer, on_timer, RESTART_MS, 0);
    }
    free(conf);
    free(pid);
    free(vty);
    free(log);
    free(port);
}

/* ---- Announcements. ---- */

static void
on_vtysh_exit(uv_process_t *p, int64_t status, int term_signal)
{
    struct speaker *sp = p->data;
    const char *s;

    sp->vtysh_proc = NULL;
    uv_close((uv_handle_t *) p, handle_closed);
    if (sp->stopping) {
        return;
    }
    if (status || term_signal || !sp->bgpd_proc) {
        VLOG_WARN_RL(&rl, "vtysh exited with status %"PRId64" (signal %d): "
                     "%zu announcements and %zu withdrawals not taken, "
                     "again in %d ms", status, term_signal,
                     sset_count(&sp->adding), sset_count(&sp->removing),
                     RETRY_MS);
        sset_clear(&sp->adding);
        sset_clear(&sp->removing);
        uv_timer_start(sp->timer, on_timer, RETRY_MS, 0);
        return;
    }
    SSET_FOR_EACH (s, &sp->adding) {
        VLOG_INFO("bgp: announcing %s", s);
        sset_add(&sp->have, s);
    }
    SSET_FOR_EACH (s, &sp->removing) {
        VLOG_INFO("bgp: withdrawing %s", s);
        sset_find_and_delete(&sp->have, s);
    }
    sset_clear(&sp->adding);
    sset_clear(&sp->removing);
    kick(sp);
}

static void
put_family(struct speaker *sp, char ***argv, size_t *n, size_t *cap,
           bool v6)
{
    const char *s;
    size_t start = *n;

#define PUT(X) \
    do { \
        if (*n + 2 >= *cap) { \
            *argv = x2nrealloc(*argv, cap, sizeof **argv); \
        } \
        (*argv)[(*n)++] = xstrdup("-c"); \
        (*argv)[(*n)++] = (X); \
    } while (0)

    PUT(xstrdup(v6 ? "address-family ipv6 unicast"
                   : "address-family ipv4 unicast"));
    SSET_FOR_EACH (s, &sp->adding) {
        if (!!strchr(s, ':') == v6) {
            PUT(xasprintf("network %s", s));
        }
    }
    SSET_FOR_EACH (s, &sp->removing) {
        if (!!strchr(s, ':') == v6) {
            PUT(xasprintf("no network %s", s));
        }
    }
    if (*n == start + 2) {      /* Nothing of this family. */
        free((*argv)[--*n]);
        free((*argv)[--*n]);
        return;
    }
    PUT(xstrdup("exit-address-family"));
#undef PUT
}

/* Tells bgpd what changed, if anything and nothing is under way. */
static void
kick(struct speaker *sp)
{
    size_t n = 0, cap = 16;
    char **argv;
    const char *s;

    if (sp->stopping || sp->vtysh_proc || !sp->bgpd_proc
        || uv_is_active((uv_handle_t *) sp->timer)) {
        return;
    }
    SSET_FOR_EACH (s, &sp->want) {
        if (sset_count(&sp->adding) >= MAX_CHANGES) {
            break;
        }
        if (!sset_contains(&sp->have, s)) {
            sset_add(&sp->adding, s);
        }
    }
    SSET_FOR_EACH (s, &sp->have) {
        if (sset_count(&sp->adding) + sset_count(&sp->removing)
            >= MAX_CHANGES) {
            break;
        }
        if (!sset_contains(&sp->want, s)) {
            sset_add(&sp->removing, s);
        }
    }
    if (sset_is_empty(&sp->adding) && sset_is_empty(&sp->removing)) {
        return;
    }
    argv = xmalloc(cap * sizeof *argv);
    argv[n++] = xstrdup(sp->vtysh);
    argv[n++] = xasprintf("--vty_socket=%s", sp->run_dir);
    argv[n++] = xstrdup("-c");
    argv[n++] = xstrdup("configure terminal");
    argv[n++] = xstrdup("-c");
    argv[n++] = xasprintf("router bgp %"PRIu32, sp->asn);
    put_family(sp, &argv, &n, &cap, false);
    put_family(sp, &argv, &n, &cap, true);
    if (n + 1 >= cap) {
        argv = x2nrealloc(argv, &cap, sizeof *argv);
    }
    argv[n] = NULL;
    sp->vtysh_proc = spawn(sp, argv, on_vtysh_exit);
    if (!sp->vtysh_proc) {
        sset_clear(&sp->adding);
        sset_clear(&sp->removing);
        uv_timer_start(sp->timer, on_timer, RETRY_MS, 0);
    }
    for (size_t i = 0; i < n; i++) {
        free(argv[i]);
    }
    free(argv);
}

bool
speaker_speaks_for(const struct speaker *sp, const char *bridge)
{
    return sset_is_empty(&sp->bridges) || sset_contains(&sp->bridges, bridge);
}

void
speaker_set(struct speaker *sp, const struct sset *prefixes)
{
    if (!sset_equals(&sp->want, prefixes)) {
        sset_destroy(&sp->want);
        sset_clone(&sp->want, prefixes);
        kick(sp);
    }
}

/* ---- Life. ---- */

struct speaker *
speaker_create(uv_loop_t *loop, const char *path, char **errorp)
{
    struct speaker *sp = xzalloc(sizeof *sp);
    json_error_t jerr;
    json_t *j;
    char *error;

    sp->loop = loop;
    sp->file = xstrdup(path);
    sset_init(&sp->bridges);
    sset_init(&sp->want);
    sset_init(&sp->have);
    sset_init(&sp->adding);
    sset_init(&sp->removing);
    j = json_load_file(path, 0, &jerr);
    error = j ? parse(sp, j, path)
              : xasprintf("%s: line %d: %s", path, jerr.line, jerr.text);
    json_decref(j);
    if (!error && mkdir(sp->run_dir, 0755) && errno != EEXIST) {
        error = xasprintf("%s: run_dir %s: %s", path, sp->run_dir,
                          ovs_strerror(errno));
    }
    if (!error) {
        sp->conf = xasprintf("%s/bgpd.conf", sp->run_dir);
        sp->pidfile = xasprintf("%s/bgpd.pid", sp->run_dir);
        sp->log_file = xasprintf("%s/bgpd.log", sp->run_dir);
        error = write_conf(sp);
    }
    if (!error && access(sp->bgpd, X_OK)) {
        error = xasprintf("%s: bgpd %s: %s (FRR's bgpd, Debian package "
                          "frr)", path, sp->bgpd, ovs_strerror(errno));
    }
    if (error) {
        *errorp = error;
        speaker_free(sp);
        return NULL;
    }
    sp->timer = xzalloc(sizeof *sp->timer);
    uv_timer_init(loop, sp->timer);
    sp->timer->data = sp;
    sp->n_handles++;
    start_bgpd(sp);
    return sp;
}

/* Stops a child and reaps it (child_stop()). */
static void
stop_child(uv_process_t *p, const char *what)
{
    child_stop(p->pid, what);
    uv_close((uv_handle_t *) p, handle_closed);
}

void
speaker_destroy(struct speaker *sp)
{
    if (!sp) {
        return;
    }
    sp->stopping = true;
    if (sp->vtysh_proc) {
        stop_child(sp->vtysh_proc, "vtysh");
        sp->vtysh_proc = NULL;
    }
    if (sp->bgpd_proc) {
        VLOG_INFO("stopping bgpd %d: its sessions close", sp->bgpd_proc->pid);
        stop_child(sp->bgpd_proc, "bgpd");
        sp->bgpd_proc = NULL;
    }
    uv_close((uv_handle_t *) sp->timer, handle_closed);
}

/* 'set''s strings, sorted, as a JSON array (new reference). */
static json_t *
sorted_json(const struct sset *set)
{
    const char **names = sset_sort(set);
    json_t *a = json_array();

    for (size_t i = 0; i < sset_count(set); i++) {
        json_array_append_new(a, json_string(names[i]));
    }
    free(names);
    return a;
}

json_t *
speaker_status_json(const struct speaker *sp)
{
    json_t *peers = json_array();
    size_t pending = 0;
    const char *s;

    SSET_FOR_EACH (s, &sp->want) {
        pending += !sset_contains(&sp->have, s);
    }
    SSET_FOR_EACH (s, &sp->have) {
        pending += !sset_contains(&sp->want, s);
    }
    for (size_t i = 0; i < sp->n_peers; i++) {
        json_array_append_new(peers, json_pack(
            "{s:s, s:I}", "address", sp->peers[i].addr,
            "asn", (json_int_t) sp->peers[i].asn));
    }
    return json_pack("{s:I, s:s, s:o, s:o, s:I, s:o, s:I, s:I}",
                     "asn", (json_int_t) sp->asn,
                     "router_id", sp->router_id, "peers", peers,
                     "bridges", sset_is_empty(&sp->bridges) ? json_null()
                                : sorted_json(&sp->bridges),
                     "bgpd_pid", (json_int_t) (sp->bgpd_proc
                                               ? sp->bgpd_proc->pid : 0),
                     "announced", sorted_json(&sp->have),
                     "pending", (json_int_t) pending,
                     "restarts", (json_int_t) (sp->starts
                                               ? sp->starts - 1 : 0));
}
