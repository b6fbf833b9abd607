/* The local switch's connection tracker (ctdump.h). */
#include <config.h>
#include "ctdump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "openvswitch/json.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "sset.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ctdump);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 10);

#define READ_TIMEOUT_MS 3000

struct waiter {
    ctdump_cb *cb;
    void *aux;
};

/* One call on the switch's control socket: up to two requests sent
 * together on a connection of its own, their answers collected. */
struct swcall {
    struct ovs_list node;       /* In ctdump's 'calls'. */
    struct jsonrpc *rpc;
    long long int deadline;
    size_t n;
    struct json *ids[2];
    char *texts[2];
    /* Called once, with the texts or an error; the call is freed after. */
    void (*done)(struct ctdump *, struct swcall *, const char *error);
    ctdump_call_cb *cb;         /* ctdump_call()'s. */
    void *aux;
};

struct ctdump {
    struct ovs_list calls;      /* struct swcall, under way. */
    bool reading;               /* A conntrack read is among them. */
    struct waiter *waiters;     /* Who waits for it. */
    size_t n_waiters, allocated_waiters;
};

struct ct_sessions {
    struct shash counts;        /* "zone/proto/vip/vport/rip/rport" ->
                                 * uint64_t * */
    uint64_t total;
};

/* ---- The switch's socket. ---- */

char *
ctdump_switch_socket(char **error)
{
    const char *rundir = getenv("OVS_RUNDIR");
    struct stat st;
    char *pidfile, *fixed;
    pid_t pid;

    if (!rundir || !rundir[0]) {
        rundir = "/var/run/openvswitch";
    }
    fixed = xasprintf("%s/ovs-vswitchd.ctl", rundir);
    if (!stat(fixed, &st) && S_ISSOCK(st.st_mode)) {
        return fixed;
    }
    free(fixed);
    pidfile = xasprintf("%s/ovs-vswitchd.pid", rundir);
    pid = read_pidfile(pidfile);
    if (pid < 0) {
        *error = xasprintf("cannot find ovs-vswitchd: %s: %s (set "
                           "OVS_RUNDIR for mslbd)", pidfile,
                           ovs_strerror(-pid));
        free(pidfile);
        return NULL;
    }
    free(pidfile);
    return xasprintf("%s/ovs-vswitchd.%ld.ctl", rundir, (long) pid);
}

/* ---- Parsing dump-conntrack. ---- */

static char *
session_key(uint16_t zone, uint8_t proto, const char *vip, unsigned vport,
            const char *rip, unsigned rport)
{
    return xasprintf("%"PRIu16"/%"PRIu8"/%s/%u/%s/%u", zone, proto, vip,
                     vport, rip, rport);
}

/* Copies the value of "NAME=" within [p, end) into 'out' ("" if absent). */
static void
get_field(const char *p, const char *end, const char *name, char *out,
          size_t size)
{
    size_t n = strlen(name);

    out[0] = '\0';
    for (const char *q = p; q && q < end; q = memchr(q, ',', end - q)) {
        if (*q == ',' || *q == '(') {
            q++;
        }
        if ((size_t) (end - q) > n && !strncmp(q, name, n) && q[n] == '=') {
            const char *v = q + n + 1;
            size_t len = strcspn(v, ",)");

            if (v + len > end) {
                len = end - v;
            }
            if (len < size) {
                memcpy(out, v, len);
                out[len] = '\0';
            }
            return;
        }
    }
}

/* The "(...)" after 'tag' in 'line': start and end (at the ')'). */
static bool
get_tuple(const char *line, const char *tag, const char **start,
          const char **end)
{
    const char *p = strstr(line, tag);

    if (!p) {
        return false;
    }
    *start = p + strlen(tag);
    *end = strchr(*start, ')');
    return *end != NULL;
}

static int
proto_number(const char *name, size_t len)
{
    static const struct { const char *name; int number; } protos[] = {
        { "tcp", 6 }, { "udp", 17 }, { "sctp", 132 }, { "icmp", 1 },
        { "icmpv6", 58 }, { "udplite", 136 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(protos); i++) {
        if (strlen(protos[i].name) == len
            && !strncmp(protos[i].name, name, len)) {
            return protos[i].number;
        }
    }
    if (len > 8 && !strncmp(name, "ipproto=", 8)) {
        return atoi(name + 8);
    }
    return -1;
}

struct ct_sessions *
ct_sessions_parse(const char *text)
{
    struct ct_sessions *ct = xzalloc(sizeof *ct);
    char *copy = xstrdup(text), *save = NULL;

    shash_init(&ct->counts);
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char vip[64], vport[8], rip[64], rport[8], zone[8], state[24];
        const char *os, *oe, *rs, *re;
        int proto = proto_number(line, strcspn(line, ","));

        if (proto < 0 || !get_tuple(line, "orig=(", &os, &oe)
            || !get_tuple(line, "reply=(", &rs, &re)) {
            continue;
        }
        get_field(os, oe, "dst", vip, sizeof vip);
        get_field(os, oe, "dport", vport, sizeof vport);
        get_field(rs, re, "src", rip, sizeof rip);
        get_field(rs, re, "sport", rport, sizeof rport);
        get_field(re, line + strlen(line), "zone", zone, sizeof zone);
        state[0] = '\0';
        const char *st = strstr(re, "state=");
        if (st) {
            get_field(st - 1, line + strlen(line), "state", state,
                      sizeof state);
        }
        if (proto == 6 && (!strcmp(state, "TIME_WAIT")
                           || !strcmp(state, "CLOSED")
                           || !strcmp(state, "FIN_WAIT_2"))) {
            continue;           /* Closed: kept a while, not open. */
        }
        char *key = session_key(atoi(zone), proto, vip, atoi(vport), rip,
                                atoi(rport));
        uint64_t *n = shash_find_data(&ct->counts, key);
        if (!n) {
            n = xzalloc(sizeof *n);
            shash_add_nocopy(&ct->counts, key, n);
        } else {
            free(key);
        }
        ++*n;
        ct->total++;
    }
    free(copy);
    return ct;
}

struct ct_sessions *
ct_sessions_clone(const struct ct_sessions *ct)
{
    struct ct_sessions *copy = xzalloc(sizeof *copy);
    struct shash_node *node;

    shash_init(&copy->counts);
    SHASH_FOR_EACH (node, &ct->counts) {
        shash_add(&copy->counts, node->name,
                  xmemdup(node->data, sizeof(uint64_t)));
    }
    copy->total = ct->total;
    return copy;
}

void
ct_sessions_destroy(struct ct_sessions *ct)
{
    if (ct) {
        shash_destroy_free_data(&ct->counts);
        free(ct);
    }
}

uint64_t
ct_sessions_count(const struct ct_sessions *ct, uint16_t zone, uint8_t proto,
                  const struct mslb_addr *vip, uint16_t vport,
                  const struct mslb_addr *rip, uint16_t rport)
{
    char v[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
    uint64_t *n;
    char *key;

    mslb_addr_format(vip, v, sizeof v);
    mslb_addr_format(rip, r, sizeof r);
    key = session_key(zone, proto, v, vport, r, rport);
    n = shash_find_data(&ct->counts, key);
    free(key);
    return n ? *n : 0;
}

uint64_t
ct_sessions_total(const struct ct_sessions *ct)
{
    return ct->total;
}

/* ---- Calls. ---- */

struct ctdump *
ctdump_create(void)
{
    struct ctdump *cd = xzalloc(sizeof *cd);

    ovs_list_init(&cd->calls);
    return cd;
}

static void
swcall_finish(struct ctdump *cd, struct swcall *call, const char *error)
{
    ovs_list_remove(&call->node);
    jsonrpc_close(call->rpc);
    call->done(cd, call, error);
    for (size_t i = 0; i < call->n; i++) {
        json_destroy(call->ids[i]);
        free(call->texts[i]);
    }
    free(call);
}

/* Starts a call of 'n' requests (methods[i] with argv[i], argc[i]); an
 * error to connect is reported through 'done' at once. */
static void
swcall_start(struct ctdump *cd, size_t n, const char *const methods[],
             const size_t argc[], const char *const *const argv[],
             void (*done)(struct ctdump *, struct swcall *, const char *),
             ctdump_call_cb *cb, void *aux)
{
    struct swcall *call = xzalloc(sizeof *call);
    char *error = NULL, *path = ctdump_switch_socket(&error);
    struct stream *stream;
    int err = 0;

    call->n = n;
    call->done = done;
    call->cb = cb;
    call->aux = aux;
    ovs_list_push_back(&cd->calls, &call->node);
    if (path) {
        char *name = xasprintf("unix:%s", path);

        /* A local socket: connected at once, or refused. */
        err = stream_open_block(stream_open(name, &stream, DSCP_DEFAULT),
                                READ_TIMEOUT_MS, &stream);
        free(name);
        if (err) {
            error = xasprintf("%s: %s", path, ovs_strerror(err));
        }
        free(path);
    }
    if (error) {
        swcall_finish(cd, call, error);
        free(error);
        return;
    }
    call->rpc = jsonrpc_open(stream);
    call->deadline = time_msec() + READ_TIMEOUT_MS;
    for (size_t i = 0; i < n; i++) {
        struct json *params = json_array_create_empty();

        for (size_t k = 0; k < argc[i]; k++) {
            json_array_add(params, json_string_create(argv[i][k]));
        }
        jsonrpc_send(call->rpc, jsonrpc_create_request(methods[i], params,
                                                       &call->ids[i]));
    }
}

/* A reply's text, or an error (malloc'd). */
static char *
reply_text(const struct jsonrpc_msg *msg, char **error)
{
    if (msg->type == JSONRPC_ERROR || (msg->error
                                       && msg->error->type != JSON_NULL)) {
        const struct json *e = msg->error;
        *error = xstrdup(e && e->type == JSON_STRING ? json_string(e)
                         : "error");
        return NULL;
    }
    if (!msg->result || msg->result->type != JSON_STRING) {
        *error = xstrdup("not a text reply");
        return NULL;
    }
    return xstrdup(json_string(msg->result));
}

/* Reads what arrived for 'call'; finishes it when every answer is in, on
 * an error, or at its deadline. */
static void
swcall_run(struct ctdump *cd, struct swcall *call)
{
    struct jsonrpc_msg *msg;
    char *error = NULL;
    int err;

    jsonrpc_run(call->rpc);
    while (!error && !(err = jsonrpc_recv(call->rpc, &msg))) {
        for (size_t i = 0; i < call->n; i++) {
            if (msg->id && json_equal(msg->id, call->ids[i])) {
                call->texts[i] = reply_text(msg, &error);
            }
        }
        jsonrpc_msg_destroy(msg);
        bool all = !error;
        for (size_t i = 0; i < call->n && all; i++) {
            all = call->texts[i] != NULL;
        }
        if (all) {
            swcall_finish(cd, call, NULL);
            return;
        }
    }
    if (!error && err != EAGAIN) {
        error = xasprintf("ovs-vswitchd's socket: %s",
                          ovs_retval_to_string(err));
    }
    if (!error && time_msec() >= call->deadline) {
        error = xasprintf("ovs-vswitchd did not answer in %d ms",
                          READ_TIMEOUT_MS);
    }
    if (error) {
        swcall_finish(cd, call, error);
        free(error);
    }
}

void
ctdump_run(struct ctdump *cd)
{
    struct swcall *call;

    LIST_FOR_EACH_SAFE (call, node, &cd->calls) {
        swcall_run(cd, call);
    }
}

void
ctdump_wait(struct ctdump *cd)
{
    struct swcall *call;

    LIST_FOR_EACH (call, node, &cd->calls) {
        jsonrpc_wait(call->rpc);
        jsonrpc_recv_wait(call->rpc);
        poll_timer_wait_until(call->deadline);
    }
}

void
ctdump_destroy(struct ctdump *cd)
{
    if (cd) {
        struct swcall *call;

        LIST_FOR_EACH_SAFE (call, node, &cd->calls) {
            swcall_finish(cd, call, "mslbd is stopping");
        }
        free(cd);
    }
}

/* ---- A unixctl command. ---- */

static void
call_done(struct ctdump *cd OVS_UNUSED, struct swcall *call,
          const char *error)
{
    call->cb(call->aux, error ? NULL : call->texts[0], error);
}

void
ctdump_call(struct ctdump *cd, const char *method, size_t argc,
            const char *const argv[], ctdump_call_cb *cb, void *aux)
{
    swcall_start(cd, 1, &method, &argc, &argv, call_done, cb, aux);
}

/* ---- The conntrack read. ---- */

static void
read_done(struct ctdump *cd, struct swcall *call, const char *error)
{
    struct waiter *waiters = cd->waiters;
    size_t n = cd->n_waiters;
    struct ct_sessions *ct = NULL;
    struct sset bridges = SSET_INITIALIZER(&bridges);

    if (!error) {
        char *save = NULL;

        ct = ct_sessions_parse(call->texts[1]);
        for (char *name = strtok_r(call->texts[0], "\n", &save); name;
             name = strtok_r(NULL, "\n", &save)) {
            sset_add(&bridges, name);
        }
    } else {
        VLOG_WARN_RL(&rl, "reading the switch's conntrack: %s", error);
    }
    cd->reading = false;
    cd->waiters = NULL;
    cd->n_waiters = cd->allocated_waiters = 0;
    for (size_t i = 0; i < n; i++) {
        waiters[i].cb(waiters[i].aux, ct, error ? NULL : &bridges, error);
    }
    free(waiters);
    ct_sessions_destroy(ct);
    sset_destroy(&bridges);
}

void
ctdump_read(struct ctdump *cd, ctdump_cb *cb, void *aux)
{
    static const char *const methods[2] = {
        "ofproto/list", "dpctl/dump-conntrack"
    };
    static const size_t argc[2] = { 0, 0 };
    static const char *const *const argv[2] = { NULL, NULL };

    if (cd->n_waiters == cd->allocated_waiters) {
        cd->waiters = x2nrealloc(cd->waiters, &cd->allocated_waiters,
                                 sizeof *cd->waiters);
    }
    cd->waiters[cd->n_waiters++] = (struct waiter) { cb, aux };
    if (!cd->reading) {
        cd->reading = true;
        swcall_start(cd, 2, methods, argc, argv, read_done, NULL, NULL);
    }
}
