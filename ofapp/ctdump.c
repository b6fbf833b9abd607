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

struct ctdump {
    struct jsonrpc *rpc;        /* NULL: no read under way. */
    long long int deadline;
    struct json *list_id, *dump_id;
    char *list_text, *dump_text;        /* The answers so far. */
    struct waiter *waiters;
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

/* ---- The read. ---- */

struct ctdump *
ctdump_create(void)
{
    return xzalloc(sizeof(struct ctdump));
}

static void
finish(struct ctdump *cd, const char *error)
{
    struct waiter *waiters = cd->waiters;
    size_t n = cd->n_waiters;
    struct ct_sessions *ct = NULL;
    struct sset bridges = SSET_INITIALIZER(&bridges);

    if (!error) {
        char *save = NULL;

        ct = ct_sessions_parse(cd->dump_text);
        for (char *name = strtok_r(cd->list_text, "\n", &save); name;
             name = strtok_r(NULL, "\n", &save)) {
            sset_add(&bridges, name);
        }
    } else {
        VLOG_WARN_RL(&rl, "reading the switch's conntrack: %s", error);
    }
    jsonrpc_close(cd->rpc);
    cd->rpc = NULL;
    json_destroy(cd->list_id);
    json_destroy(cd->dump_id);
    cd->list_id = cd->dump_id = NULL;
    free(cd->list_text);
    free(cd->dump_text);
    cd->list_text = cd->dump_text = NULL;
    cd->waiters = NULL;
    cd->n_waiters = cd->allocated_waiters = 0;

    for (size_t i = 0; i < n; i++) {
        waiters[i].cb(waiters[i].aux, ct, error ? NULL : &bridges, error);
    }
    free(waiters);
    ct_sessions_destroy(ct);
    sset_destroy(&bridges);
}

static struct json *
send_request(struct ctdump *cd, const char *method, const char *arg)
{
    struct json *params = json_array_create_empty();
    struct jsonrpc_msg *req;
    struct json *id;

    if (arg) {
        json_array_add(params, json_string_create(arg));
    }
    req = jsonrpc_create_request(method, params, &id);
    jsonrpc_send(cd->rpc, req);
    return id;
}

void
ctdump_read(struct ctdump *cd, ctdump_cb *cb, void *aux)
{
    if (cd->n_waiters == cd->allocated_waiters) {
        cd->waiters = x2nrealloc(cd->waiters, &cd->allocated_waiters,
                                 sizeof *cd->waiters);
    }
    cd->waiters[cd->n_waiters++] = (struct waiter) { cb, aux };
    if (cd->rpc) {
        return;                 /* Shares the read under way. */
    }

    char *error = NULL, *path = ctdump_switch_socket(&error);
    struct stream *stream;
    int err;

    if (!path) {
        finish(cd, error);
        free(error);
        return;
    }
    char *name = xasprintf("unix:%s", path);
    err = stream_open_block(stream_open(name, &stream, DSCP_DEFAULT),
                            READ_TIMEOUT_MS, &stream);
    free(name);
    if (err) {
        error = xasprintf("%s: %s", path, ovs_strerror(err));
        free(path);
        cd->rpc = NULL;
        finish(cd, error);
        free(error);
        return;
    }
    free(path);
    cd->rpc = jsonrpc_open(stream);
    cd->deadline = time_msec() + READ_TIMEOUT_MS;
    cd->list_id = send_request(cd, "ofproto/list", NULL);
    cd->dump_id = send_request(cd, "dpctl/dump-conntrack", NULL);
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

void
ctdump_run(struct ctdump *cd)
{
    struct jsonrpc_msg *msg;
    char *error = NULL;
    int err;

    if (!cd->rpc) {
        return;
    }
    jsonrpc_run(cd->rpc);
    while (cd->rpc && !error
           && !(err = jsonrpc_recv(cd->rpc, &msg))) {
        if (msg->id && json_equal(msg->id, cd->list_id)) {
            cd->list_text = reply_text(msg, &error);
        } else if (msg->id && json_equal(msg->id, cd->dump_id)) {
            cd->dump_text = reply_text(msg, &error);
        }
        jsonrpc_msg_destroy(msg);
        if (!error && cd->list_text && cd->dump_text) {
            finish(cd, NULL);
            return;
        }
    }
    if (!error && cd->rpc && err != EAGAIN) {
        error = xasprintf("ovs-vswitchd's socket: %s", ovs_retval_to_string(
                              err));
    }
    if (!error && time_msec() >= cd->deadline) {
        error = xasprintf("ovs-vswitchd did not answer in %d ms",
                          READ_TIMEOUT_MS);
    }
    if (error) {
        finish(cd, error);
        free(error);
    }
}

void
ctdump_wait(struct ctdump *cd)
{
    if (cd->rpc) {
        jsonrpc_wait(cd->rpc);
        jsonrpc_recv_wait(cd->rpc);
        poll_timer_wait_until(cd->deadline);
    }
}

void
ctdump_destroy(struct ctdump *cd)
{
    if (cd) {
        if (cd->rpc || cd->n_waiters) {
            finish(cd, "mslbd is stopping");
        }
        free(cd);
    }
}
