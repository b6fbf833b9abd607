/* The control socket: see control.h.  OVS's unixctl server does the
 * protocol; this file registers mslbd's commands and formats their text. */
#include <config.h>
#include "control.h"

#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "unixctl.h"
#include "util.h"
#include "mslb/pipeline.h"

#include "bridges.h"
#include "ctdump.h"
#include "nbdb.h"
#include "mslb/modeldb.h"

VLOG_DEFINE_THIS_MODULE(control);

struct control {
    struct unixctl_server *server;
    struct control_env env;
};

static bool
installed(const struct control *c, const struct bridge *b, uint64_t *gen)
{
    return c->env.installed(c->env.aux, b, gen);
}

static void
cmd_status(struct unixctl_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *c_)
{
    struct control *c = c_;
    const struct control_env *e = &c->env;
    struct ds s = DS_EMPTY_INITIALIZER;
    uint64_t role_gen, gen = nbdb_generation(e->nbdb);
    bool master = nbdb_is_master(e->nbdb, &role_gen);
    const char *master_name = nbdb_master_name(e->nbdb);
    struct bridges_tally bt;

    bridges_tally(e->bridges, e->mdb, gen, e->installed, e->aux, &bt);
    ds_put_format(&s, "mslbd %s: %s (master %s, role generation %"PRIu64
                  ")\n", nbdb_id(e->nbdb), master ? "master" : "standby",
                  master_name ? master_name : "none", role_gen);
    ds_put_format(&s, "model: generation %"PRIu64", database %s, %zu "
                  "problems\n", gen,
                  nbdb_is_connected(e->nbdb) ? "connected" : "disconnected",
                  shash_count(nbdb_problems(e->nbdb)));
    ds_put_format(&s, "bridges: %zu configured, %zu connected, %zu in step\n",
                  bt.configured, bt.connected, bt.in_step);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
show_bridge(const struct control *c, const struct bridge *b, struct ds *s)
{
    json_t *j = bridge_status_json(b);
    const char *role = json_string_value(json_object_get(j, "openflow_role"));
    const char *version = json_string_value(json_object_get(j,
                                                            "openflow_version"));
    uint64_t have;

    ds_put_format(s, "%s: %s", bridge_name(b),
                  bridge_is_connected(b) ? "connected" : "disconnected");
    if (role) {
        ds_put_format(s, ", %s", role);
    }
    ds_put_format(s, ", dpid %s", json_string_value(json_object_get(
                                      j, "datapath_id")));
    if (version) {
        ds_put_format(s, ", %s", version);
    }
    if (!mdb_find_bridge(c->env.mdb, bridge_name(b))) {
        ds_put_cstr(s, ", not in the model");
    } else if (installed(c, b, &have)) {
        ds_put_format(s, ", installed %"PRIu64" of %"PRIu64, have,
                      nbdb_generation(c->env.nbdb));
    }
    ds_put_format(s, ", %"PRId64" flows, %"PRId64" groups\n",
                  (int64_t) json_integer_value(json_object_get(j, "flows")),
                  (int64_t) json_integer_value(json_object_get(j, "groups")));
    json_decref(j);
}

static void
cmd_bridge_show(struct unixctl_conn *conn, int argc, const char *argv[],
                void *c_)
{
    struct control *c = c_;
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t shown = 0;

    for (size_t i = 0; i < bridges_count(c->env.bridges); i++) {
        const struct bridge *b = bridges_at(c->env.bridges, i);

        if (argc < 2 || !strcmp(bridge_name(b), argv[1])) {
            show_bridge(c, b, &s);
            shown++;
        }
    }
    if (argc >= 2 && !shown) {
        ds_put_format(&s, "no bridge named %s has connected", argv[1]);
        unixctl_command_reply_error(conn, ds_cstr(&s));
    } else {
        unixctl_command_reply(conn, ds_cstr(&s));
    }
    ds_destroy(&s);
}

/* ---- trace: the switch's ofproto/trace, in mslb's words. ---- */

static const char *
table_name(int table)
{
    switch (table) {
#define MSLB_TABLE(NAME, NUMBER, PURPOSE) case NUMBER: return #NAME;
    MSLB_TABLES
#undef MSLB_TABLE
    }
    return NULL;
}

/* One line of ofproto/trace: a table's flow line (" 5. match, priority
 * N, cookie 0x...") gets mslb's table name and the service the cookie
 * names; a write of the backend register names the backend. */
static void
annotate(const struct control *c, const char *line, struct ds *out,
         const struct model_service **svcp, uint32_t *backend)
{
    const char *p = line + strspn(line, " ");
    const char *ck = strstr(line, "cookie 0x");
    const char *reg = strstr(line, "->"MSLB_REG_BACKEND);
    int table, n = 0;

    ds_put_cstr(out, line);
    if (sscanf(p, "%d.%n", &table, &n) == 1 && n && table_name(table)) {
        ds_put_format(out, "  [%s", table_name(table));
        unsigned long long cookie = ck ? strtoull(ck + 7, NULL, 16) : 0;
        if ((cookie & MSLB_COOKIE_TAG_MASK) == MSLB_COOKIE_TAG
            && (cookie >> MSLB_COOKIE_KIND_SHIFT & 0xff)
               == MSLB_COOKIE_SERVICE) {
            const struct model_service *svc
                = mdb_find_service_by_id(c->env.mdb, cookie & 0xffffff);
            if (svc) {
                ds_put_format(out, ", service %s", svc->name);
                *svcp = svc;
            }
        }
        ds_put_char(out, ']');
    } else if (reg && strstr(line, "set_field:0x")) {
        *backend = strtoul(strstr(line, "set_field:0x") + 10, NULL, 16);
    }
    ds_put_char(out, '\n');
}

struct trace {
    struct control *c;
    struct unixctl_conn *conn;  /* Kept by OVS until we answer. */
};

/* The switch's ofproto/trace answered (in the background: a stuck
 * ovs-vswitchd does not hold mslbd's loop, it times out). */
static void
on_trace(void *t_, const char *result, const char *error)
{
    struct trace *t = t_;

    if (error) {
        char *msg = xasprintf("ofproto/trace: %s", error);
        unixctl_command_reply_error(t->conn, msg);
        free(msg);
    } else {
        const struct model_service *svc = NULL;
        uint32_t backend = 0;
        struct ds out = DS_EMPTY_INITIALIZER;
        char *text = xstrdup(result), *save = NULL;

        for (char *line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            annotate(t->c, line, &out, &svc, &backend);
        }
        free(text);
        ds_put_format(&out, "\nmslb: service %s", svc ? svc->name : "none");
        if (svc && backend) {
            const struct model_backend *be
                = model_find_backend_by_key(svc, backend);
            ds_put_format(&out, ", backend %s", be ? be->name : "unknown");
        } else if (svc && strstr(ds_cstr(&out), "hash(")) {
            /* A new session's slot comes from the datapath's hash of the
             * packet, after a recirculation ofproto/trace cannot follow. */
            ds_put_cstr(&out, ", backend: chosen by the datapath's hash "
                        "of the packet (dp_hash), not traced");
        }
        ds_put_char(&out, '\n');
        unixctl_command_reply(t->conn, ds_cstr(&out));
        ds_destroy(&out);
    }
    free(t);
}

static void
cmd_trace(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[], void *c_)
{
    struct control *c = c_;
    struct trace *t = xmalloc(sizeof *t);
    const char *const args[2] = { argv[1], argv[2] };

    t->c = c;
    t->conn = conn;
    ctdump_call(c->env.ctdump, "ofproto/trace", 2, args, on_trace, t);
}

static void
cmd_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *c_)
{
    struct control *c = c_;

    VLOG_INFO("exit requested on the control socket");
    unixctl_command_reply(conn, NULL);
    c->env.exit(c->env.aux);
}

char *
control_start(const char *path, const char *pidfile,
              const struct control_env *env, struct control **cp)
{
    struct control *c = xzalloc(sizeof *c);
    char *owned = NULL;
    int error;

    if (!path && pidfile) {
        /* Absolute: OVS resolves a relative one against its rundir. */
        char *copy = xstrdup(pidfile);
        char *dir = realpath(dirname(copy), NULL);
        path = owned = xasprintf("%s/mslbd.%ld.ctl", dir ? dir : ".",
                                 (long) getpid());
        free(dir);
        free(copy);
    }
    error = unixctl_server_create(path, &c->server);
    if (error) {
        char *msg = xasprintf("control socket %s: %s",
                              path ? path : "(default)",
                              ovs_strerror(error));
        free(owned);
        free(c);
        return msg;
    }
    free(owned);
    c->env = *env;
    unixctl_command_register("status", "", 0, 0, cmd_status, c);
    unixctl_command_register("bridge/show", "[BRIDGE]", 0, 1,
                             cmd_bridge_show, c);
    unixctl_command_register("exit", "", 0, 0, cmd_exit, c);
    unixctl_command_register("trace", "BRIDGE FLOW", 2, 2, cmd_trace, c);
    *cp = c;
    return NULL;
}

void
control_run(struct control *c)
{
    if (c) {
        unixctl_server_run(c->server);
    }
}

void
control_wait(struct control *c)
{
    if (c) {
        unixctl_server_wait(c->server);
    }
}

void
control_destroy(struct control *c)
{
    if (c) {
        unixctl_server_destroy(c->server);
        free(c);
    }
}

const char *
control_path(const struct control *c)
{
    return unixctl_server_get_path(c->server);
}
