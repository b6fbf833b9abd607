/* The OVSDB plumbing end to end on a private ovsdb-server: dbserver (stale
 * server, conversion, creation, supervision), the main loop (OVS poll loop
 * with libuv inside, signals), the generated IDL (one-transaction insert,
 * generation increment, change tracking, verify conflict, unique index),
 * and the latency of a one-row change in a large database.
 *
 *   test_ovsdb [N_SERVICES]     (default 2000; 4 backends each)
 *
 * This file also shows the "with jansson" use of mslb/ovs-json-rename.h:
 * it uses jansson (json_object()...) and OVS's JSON (ovs_json_xxx()). */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "dbserver.h"
#include "mainloop.h"
#include "mslb-idl.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "util.h"

static int n_services = 2000;

static uv_loop_t *loop;
static struct mainloop *ml;
static struct dbserver *db;
static struct ovsdb_idl *idl;
static char dir[64];
static uv_signal_t sighup, sigterm;
static int n_hups, n_terms;

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static char *
xsystem_out(const char *fmt, ...)
{
    char cmd[1024], buf[256] = "";
    va_list args;
    FILE *p;

    va_start(args, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, args);
    va_end(args);
    p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(buf, sizeof buf, p)) {
        buf[0] = '\0';
    }
    pclose(p);
    buf[strcspn(buf, "\n")] = '\0';
    return xstrdup(buf);
}

/* Gone, or a zombie its new parent has not reaped yet. */
static bool
process_gone(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
    f = fopen(path, "r");
    if (!f) {
        return true;
    }
    bool zombie = fgets(buf, sizeof buf, f) && strstr(buf, ") Z ");
    fclose(f);
    return zombie;
}

static void
on_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGHUP) {
        n_hups++;
    } else {
        n_terms++;
        mainloop_stop(ml);
    }
}

static void
idl_run(void *aux)
{
    ovsdb_idl_run(aux);
}

static void
idl_wait(void *aux)
{
    ovsdb_idl_wait(aux);
}

static int
setup(void **state)
{
    strcpy(dir, "/tmp/mslb-ovsdb.XXXXXX");
    assert_non_null(mkdtemp(dir));
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_ERR);
    loop = uv_default_loop();
    /* The order mslbd must use: the main loop (OVS's signal module) first,
     * then libuv's signal handles. */
    ml = mainloop_create(loop);
    uv_signal_init(loop, &sighup);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sighup, on_signal, SIGHUP);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    return 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    if (idl) {
        ovsdb_idl_destroy(idl);
    }
    dbserver_destroy(db);
    uv_close((uv_handle_t *) &sighup, NULL);
    uv_close((uv_handle_t *) &sigterm, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    mainloop_destroy(ml);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!getenv("MSLB_KEEP")) {
        ignore(system(cmd));
    }
    return 0;
}

static bool
hup_seen(void *aux)
{
    return n_hups > 0;
}

/* SIGHUP reaches the uv_signal callback through the main loop, and the
 * process survives it (OVS's fatal-signal handler did not take it). */
static void
test_signals(void **state)
{
    raise(SIGHUP);
    assert_true(mainloop_run_until(ml, hup_seen, NULL, 2000));
    assert_int_equal(n_hups, 1);
}

/* An old-schema database held by a server left over from an earlier mslbd:
 * dbserver stops that server, keeps a copy, converts, starts its own. */
static void
test_stale_and_convert(void **state)
{
    char sub[128], file[160], old_schema[160], *version, *error;
    struct dbserver *old;
    json_t *schema;
    json_error_t jerr;
    pid_t stale;

    snprintf(sub, sizeof sub, "%s/old", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof file, "%s/mslb.db", sub);
    snprintf(old_schema, sizeof old_schema, "%s/old.ovsschema", sub);
    /* Version 0.9.0: as 1.4.0 without Bridge_Status and without the
     * monitor columns (jansson here). */
    schema = json_load_file(MSLB_OVSDB_SCHEMA, 0, &jerr);
    assert_non_null(schema);
    json_object_set_new(schema, "version", json_string("0.9.0"));
    json_t *tables = json_object_get(schema, "tables");
    json_object_del(tables, "Bridge_Status");
    static const char *const monitored[] = { "Service", "Backend" };
    for (size_t i = 0; i < 2; i++) {
        json_t *cols = json_object_get(json_object_get(tables, monitored[i]),
                                       "columns");
        assert_int_equal(json_object_del(cols, "monitor"), 0);
    }
    assert_int_equal(json_dump_file(schema, old_schema, 0), 0);
    json_decref(schema);
    free(xsystem_out("ovsdb-tool create %s %s 2>&1", file, old_schema));
    free(xsystem_out("ovsdb-server %s --remote=punix:%s/mslb-db.sock "
                     "--pidfile=%s/mslb-db.pid --unixctl=%s/mslb-db.ctl "
                     "--log-file=%s/stale.log --detach --no-chdir 2>&1",
                     file, sub, sub, sub, sub));
    char *pid_text = xsystem_out("cat %s/mslb-db.pid", sub);
    stale = atoi(pid_text);
    free(pid_text);
    assert_true(stale > 0);
    assert_int_equal(kill(stale, 0), 0);

    error = dbserver_start(loop, &(struct dbserver_options) {
                               .db_file = file, .schema = MSLB_OVSDB_SCHEMA },
                           &old);
    assert_null(error);
    assert_true(process_gone(stale));
    assert_true(dbserver_pid(old) > 0);
    assert_int_not_equal(dbserver_pid(old), stale);
    version = xsystem_out("ovsdb-tool db-version %s", file);
    assert_string_equal(version, "1.9.0");
    free(version);
    version = xsystem_out("ovsdb-tool db-version %s.backup-0.9.0", file);
    assert_string_equal(version, "0.9.0");
    free(version);
    pid_t pid = dbserver_pid(old);
    dbserver_destroy(old);
    assert_true(process_gone(pid));

    /* An external remote starts nothing. */
    error = dbserver_start(loop, &(struct dbserver_options) {
                               .remote = "tcp:198.18.0.1:6641" }, &old);
    assert_null(error);
    assert_string_equal(dbserver_remote(old), "tcp:198.18.0.1:6641");
    assert_int_equal(dbserver_pid(old), 0);
    dbserver_destroy(old);

    /* OVS's JSON, renamed, in the same file as jansson. */
    struct json *j = ovs_json_from_string("{\"a\": [1, 2]}");
    assert_int_equal(j->type, OVS_JSON_OBJECT);
    char *text = ovs_json_to_string(j, 0);
    assert_string_equal(text, "{\"a\":[1,2]}");
    free(text);
    json_destroy(j);    /* Inline in OVS's header: read under the rename. */
}

static bool
idl_ready(void *aux)
{
    return ovsdb_idl_has_ever_connected(idl) && ovsdb_idl_is_connected(idl);
}

static bool
txn_done(void *txn)
{
    return ovsdb_idl_txn_commit(txn) != TXN_INCOMPLETE;
}

/* Commits 'txn' through the main loop; returns its final status. */
static enum ovsdb_idl_txn_status
commit_wait(struct ovsdb_idl_txn *txn)
{
    ovsdb_idl_txn_commit(txn);
    assert_true(mainloop_run_until(ml, txn_done, txn, 10000));
    return ovsdb_idl_txn_commit(txn);
}

static void
test_start_and_connect(void **state)
{
    char file[160], *error;

    snprintf(file, sizeof file, "%s/mslb.db", dir);
    error = dbserver_start(loop, &(struct dbserver_options) {
                               .db_file = file, .schema = MSLB_OVSDB_SCHEMA },
                           &db);
    assert_null(error);
    assert_true(dbserver_pid(db) > 0);
    assert_int_equal(access(file, F_OK), 0);

    idl = ovsdb_idl_create(dbserver_remote(db), &mslbrec_idl_class, true,
                           true);
    ovsdb_idl_track_add_all(idl);
    mainloop_add_hook(ml, &(struct mainloop_hook) {
                          idl_run, idl_wait, idl });
    assert_true(mainloop_run_until(ml, idl_ready, NULL, 10000));

    /* mslbd creates the Global row once, before any change. */
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);
    mslbrec_global_insert(txn);
    assert_int_equal(commit_wait(txn), TXN_SUCCESS);
    ovsdb_idl_txn_destroy(txn);
}

static const struct mslbrec_service *
find_service(struct ovsdb_idl *i, const char *name)
{
    const struct mslbrec_service *svc;

    MSLBREC_SERVICE_FOR_EACH (svc, i) {
        if (!strcmp(svc->name, name)) {
            return svc;
        }
    }
    return NULL;
}

static bool
web_seen(void *aux)
{
    return find_service(idl, "web") != NULL;
}

/* One transaction: a bridge, a backend, a service referring to both, and
 * Global.generation + 1.  Then the change, as tracked by the IDL. */
static void
test_insert_and_track(void **state)
{
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);
    const struct mslbrec_global *g = mslbrec_global_first(idl);
    struct mslbrec_bridge *br;
    struct mslbrec_backend *be;
    struct mslbrec_service *svc;

    assert_non_null(g);
    ovsdb_idl_track_clear(idl);
    br = mslbrec_bridge_insert(txn);
    mslbrec_bridge_set_name(br, "br0");
    mslbrec_bridge_set_role(br, "first");
    mslbrec_bridge_set_ct_zone(br, 1);
    mslbrec_bridge_set_mac(br, "0a:00:00:00:00:01");
    mslbrec_bridge_set_frontend_port(br, "p1");
    be = mslbrec_backend_insert(txn);
    mslbrec_backend_set_name(be, "s1");
    mslbrec_backend_set_ip(be, "198.18.2.1");
    mslbrec_backend_set_port(be, 80);
    mslbrec_backend_set_weight(be, 1);
    mslbrec_backend_set_state(be, "up");
    svc = mslbrec_service_insert(txn);
    mslbrec_service_set_name(svc, "web");
    mslbrec_service_set_id(svc, 1);
    mslbrec_service_set_vip(svc, "198.18.1.1");
    mslbrec_service_set_protocol(svc, "tcp");
    mslbrec_service_set_port(svc, 80);
    mslbrec_service_set_mode(svc, "nat");
    mslbrec_service_set_idle_timeout(svc, 300);
    mslbrec_service_set_persistence(svc, 0);
    mslbrec_service_set_bridges(svc, &br, 1);
    mslbrec_service_set_backends(svc, &be, 1);
    ovsdb_idl_txn_increment(txn, &g->header_, &mslbrec_global_col_generation,
                            false);
    assert_int_equal(commit_wait(txn), TXN_SUCCESS);
    assert_int_equal(ovsdb_idl_txn_get_increment_new_value(txn), 1);
    ovsdb_idl_txn_destroy(txn);
    assert_true(mainloop_run_until(ml, web_seen, NULL, 5000));

    int n_new_svc = 0, n_new_be = 0, n_new_br = 0, n_upd_global = 0;
    const struct mslbrec_service *s;
    const struct mslbrec_backend *b;
    const struct mslbrec_bridge *r;
    const struct mslbrec_global *gg;
    MSLBREC_SERVICE_FOR_EACH_TRACKED (s, idl) {
        n_new_svc += mslbrec_service_is_new(s);
    }
    MSLBREC_BACKEND_FOR_EACH_TRACKED (b, idl) {
        n_new_be += mslbrec_backend_is_new(b);
    }
    MSLBREC_BRIDGE_FOR_EACH_TRACKED (r, idl) {
        n_new_br += mslbrec_bridge_is_new(r);
    }
    MSLBREC_GLOBAL_FOR_EACH_TRACKED (gg, idl) {
        n_upd_global += mslbrec_global_is_updated(
            gg, MSLBREC_GLOBAL_COL_GENERATION);
    }
    assert_int_equal(n_new_svc, 1);
    assert_int_equal(n_new_be, 1);
    assert_int_equal(n_new_br, 1);
    assert_int_equal(n_upd_global, 1);
    s = find_service(idl, "web");
    assert_int_equal(s->n_backends, 1);
    assert_string_equal(s->backends[0]->ip, "198.18.2.1");
    assert_string_equal(s->bridges[0]->name, "br0");
    assert_int_equal(mslbrec_global_first(idl)->generation, 1);
    ovsdb_idl_track_clear(idl);
}

/* A second client changes the service's port; ours, not having seen it,
 * verifies the port it read and gets TXN_TRY_AGAIN. */
static void
test_conflict(void **state)
{
    struct ovsdb_idl *idl2 = ovsdb_idl_create(dbserver_remote(db),
                                              &mslbrec_idl_class, true, true);
    struct ovsdb_idl_txn *txn;
    double deadline = now_us() + 10e6;

    while (!find_service(idl2, "web") && now_us() < deadline) {
        ovsdb_idl_run(idl2);
        ovsdb_idl_wait(idl2);
        poll_timer_wait(100);
        poll_block();
    }
    assert_non_null(find_service(idl2, "web"));
    txn = ovsdb_idl_txn_create(idl2);
    mslbrec_service_set_port(find_service(idl2, "web"), 8080);
    assert_int_equal(ovsdb_idl_txn_commit_block(txn), TXN_SUCCESS);
    ovsdb_idl_txn_destroy(txn);
    ovsdb_idl_destroy(idl2);

    const struct mslbrec_service *svc = find_service(idl, "web");
    assert_int_equal(svc->port, 80);        /* Not seen yet. */
    txn = ovsdb_idl_txn_create(idl);
    mslbrec_service_verify_port(svc);
    mslbrec_service_set_idle_timeout(svc, 100);
    assert_int_equal(commit_wait(txn), TXN_TRY_AGAIN);
    ovsdb_idl_txn_destroy(txn);
    assert_int_equal(find_service(idl, "web")->port, 8080);
    assert_int_equal(find_service(idl, "web")->idle_timeout, 300);
    ovsdb_idl_track_clear(idl);
}

/* A second service named "web" breaks the unique index. */
static void
test_unique_index(void **state)
{
    struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);
    struct mslbrec_bridge *br = CONST_CAST(struct mslbrec_bridge *,
                                           mslbrec_bridge_first(idl));
    struct mslbrec_service *svc = mslbrec_service_insert(txn);

    mslbrec_service_set_name(svc, "web");
    mslbrec_service_set_id(svc, 2);
    mslbrec_service_set_vip(svc, "198.18.1.2");
    mslbrec_service_set_protocol(svc, "tcp");
    mslbrec_service_set_port(svc, 80);
    mslbrec_service_set_mode(svc, "nat");
    mslbrec_service_set_idle_timeout(svc, 300);
    mslbrec_service_set_persistence(svc, 0);
    mslbrec_service_set_bridges(svc, &br, 1);
    assert_int_equal(commit_wait(txn), TXN_ERROR);
    const char *err = ovsdb_idl_txn_get_error(txn);
    assert_non_null(strstr(err, "constraint violation"));
    assert_non_null(strstr(err, "index on column \\\"name\\\""));
    ovsdb_idl_txn_destroy(txn);
}

static int
cmp_double(const void *a_, const void *b_)
{
    double a = *(const double *) a_, b = *(const double *) b_;
    return a < b ? -1 : a > b;
}

static void
report(const char *what, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    printf("ovsdb latency: %-34s p50 %7.0f us  p99 %7.0f us  max %7.0f us "
           "(%zu)\n", what, v[n / 2], v[n * 99 / 100], v[n - 1], n);
}

struct weight_seen {
    const struct mslbrec_backend *be;
    int64_t weight;
};

static bool
weight_seen(void *ws_)
{
    struct weight_seen *ws = ws_;
    return ws->be->weight == ws->weight;
}

/* n_services services x 4 backends, then one backend's weight changed at
 * a time: transaction reply, change visible in the IDL, reply + fdatasync.*/
static void
test_latency(void **state)
{
    const struct mslbrec_global *g = mslbrec_global_first(idl);
    struct mslbrec_bridge *br = CONST_CAST(struct mslbrec_bridge *,
                                           mslbrec_bridge_first(idl));
    double start = now_us(), t0 = start;
    int batch = 500;

    for (int i = 0; i < n_services; i += batch) {
        struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);
        for (int k = i; k < i + batch && k < n_services; k++) {
            struct mslbrec_backend *bes[4];
            struct mslbrec_service *svc = mslbrec_service_insert(txn);
            char name[32], vip[32], ip[32];

            snprintf(name, sizeof name, "svc%d", k);
            snprintf(vip, sizeof vip, "198.19.%d.%d", k / 250, k % 250 + 1);
            mslbrec_service_set_name(svc, name);
            mslbrec_service_set_id(svc, 100 + k);
            mslbrec_service_set_vip(svc, vip);
            mslbrec_service_set_protocol(svc, "tcp");
            mslbrec_service_set_port(svc, 80);
            mslbrec_service_set_mode(svc, "nat");
            mslbrec_service_set_idle_timeout(svc, 300);
            mslbrec_service_set_persistence(svc, 0);
            mslbrec_service_set_bridges(svc, &br, 1);
            for (int b = 0; b < 4; b++) {
                bes[b] = mslbrec_backend_insert(txn);
                snprintf(name, sizeof name, "b%d", b);
                snprintf(ip, sizeof ip, "198.18.%d.%d", 10 + b, k % 250 + 1);
                mslbrec_backend_set_name(bes[b], name);
                mslbrec_backend_set_ip(bes[b], ip);
                mslbrec_backend_set_port(bes[b], 8000 + k % 1000);
                mslbrec_backend_set_weight(bes[b], 1);
                mslbrec_backend_set_state(bes[b], "up");
            }
            mslbrec_service_set_backends(svc, bes, 4);
        }
        ovsdb_idl_txn_increment(txn, &g->header_,
                                &mslbrec_global_col_generation, false);
        double tb = now_us();
        assert_int_equal(commit_wait(txn), TXN_SUCCESS);
        if (getenv("MSLB_VERBOSE")) {
            printf("batch %d: built in %.0f ms, committed in %.0f ms\n",
                   i / batch, (tb - t0) / 1e3, (now_us() - tb) / 1e3);
        }
        t0 = now_us();
        ovsdb_idl_txn_destroy(txn);
    }
    ovsdb_idl_track_clear(idl);
    printf("ovsdb: %d services x 4 backends loaded in %.1f s (batches of "
           "%d)\n", n_services, (now_us() - start) / 1e6, batch);

    /* Index the services by name once, for random picks. */
    const struct mslbrec_service **svcs = xcalloc(n_services, sizeof *svcs);
    const struct mslbrec_service *s;
    MSLBREC_SERVICE_FOR_EACH (s, idl) {
        if (!strncmp(s->name, "svc", 3)) {
            svcs[atoi(s->name + 3)] = s;
        }
    }

    enum { N = 300 };
    double reply[N], visible[N], durable[N], sync_only[N];
    srand(7);
    for (int i = 0; i < N; i++) {
        const struct mslbrec_service *svc = svcs[rand() % n_services];
        struct weight_seen ws = { svc->backends[0],
                                  svc->backends[0]->weight % 100 + 1 };
        struct ovsdb_idl_txn *txn = ovsdb_idl_txn_create(idl);

        assert_non_null(svc);
        mslbrec_backend_verify_weight(ws.be);
        mslbrec_backend_set_weight(ws.be, ws.weight);
        ovsdb_idl_txn_increment(txn, &g->header_,
                                &mslbrec_global_col_generation, false);
        t0 = now_us();
        assert_int_equal(commit_wait(txn), TXN_SUCCESS);
        reply[i] = now_us() - t0;
        ovsdb_idl_txn_destroy(txn);
        if (i % 2) {
            /* Odd rounds: fdatasync after the reply. */
            double t1 = now_us();
            assert_int_equal(dbserver_sync(db), 0);
            sync_only[i / 2] = now_us() - t1;
            durable[i / 2] = now_us() - t0;
        }
        assert_true(mainloop_run_until(ml, weight_seen, &ws, 5000));
        visible[i] = now_us() - t0;
        ovsdb_idl_track_clear(idl);
    }
    printf("ovsdb latency at %d services x 4 backends, one backend weight "
           "per transaction (+ generation):\n", n_services);
    report("commit -> reply", reply, N);
    report("commit -> change seen by the IDL", visible, N);
    report("fdatasync alone", sync_only, N / 2);
    report("commit -> reply -> fdatasync", durable, N / 2);
    free(svcs);
    assert_int_equal(mslbrec_global_first(idl)->generation,
                     1 + (n_services + batch - 1) / batch + N);
}

static bool
restarted(void *aux)
{
    return dbserver_restarts(db) == 1 && dbserver_pid(db) > 0
           && ovsdb_idl_is_connected(idl)
           && mslbrec_global_first(idl) != NULL;
}

/* kill -9 of the server: restarted, the IDL reconnects, data intact. */
static void
test_supervision(void **state)
{
    pid_t pid = dbserver_pid(db);
    int n = 0;
    const struct mslbrec_service *s;

    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_true(mainloop_run_until(ml, restarted, NULL, 15000));
    assert_int_not_equal(dbserver_pid(db), pid);
    MSLBREC_SERVICE_FOR_EACH (s, idl) {
        n++;
    }
    assert_int_equal(n, n_services + 1);
}

static void
on_term_timer(uv_timer_t *t)
{
    raise(SIGTERM);
}

/* SIGTERM reaches the uv_signal callback, which stops mainloop_run(). */
static void
test_sigterm_stops_loop(void **state)
{
    uv_timer_t timer;

    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_term_timer, 50, 0);
    mainloop_run(ml);
    assert_int_equal(n_terms, 1);
    uv_close((uv_handle_t *) &timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

int
main(int argc, char *argv[])
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_stale_and_convert),
        cmocka_unit_test(test_start_and_connect),
        cmocka_unit_test(test_insert_and_track),
        cmocka_unit_test(test_conflict),
        cmocka_unit_test(test_unique_index),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_supervision),
        cmocka_unit_test(test_sigterm_stops_loop),
    };

    set_program_name(argv[0]);
    if (argc > 1) {
        n_services = atoi(argv[1]);
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
