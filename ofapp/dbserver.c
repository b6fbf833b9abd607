/* dbserver: mslbd's OVSDB server (dbserver.h). */
#include <config.h>
#include "dbserver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "daemon.h"
#include "openvswitch/vlog.h"
#include "util.h"

extern char **environ;

VLOG_DEFINE_THIS_MODULE(dbserver);

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define STABLE_MS 60000         /* A child that ran this long resets the
                                 * backoff. */

struct dbserver {
    uv_loop_t *loop;
    char *remote;               /* For the IDL. */
    bool external;

    /* Our own server (!external). */
    char *db_file, *schema, *server_bin, *tool_bin;
    char *sock, *pidfile, *ctl, *log_file;
    uv_process_t *child;        /* NULL between restarts. */
    uint64_t child_started_ms;
    uv_timer_t *restart_timer;
    int backoff_ms;
    unsigned int restarts;
    bool starting;              /* In dbserver_start(): exits are errors. */
    bool start_exited;
    bool stopping;
    int n_open_handles;
    int sync_fd;                /* dbserver_sync(): the file, or -1. */
    struct stat sync_st;         /* Freed when the last one is closed. */
};

static char * DBSERVER_WARN_UNUSED
dberr(const char *path, const char *fmt, ...)
{
    char *msg, *out;
    va_list args;

    va_start(args, fmt);
    msg = xvasprintf(fmt, args);
    va_end(args);
    out = xasprintf("%s: %s", path, msg);
    free(msg);
    return out;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Runs 'argv' to completion, its stdout and stderr into '*outp' (malloc'd,
 * trailing newline removed).  Returns its exit status (0..255), or -errno
 * if it could not run or died by a signal (-EINTR). */
static int
run_tool(char *const argv[], char **outp)
{
    posix_spawn_file_actions_t fa;
    size_t len = 0, cap = 256;
    char *out = xmalloc(cap);
    int fds[2], status, err;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC)) {
        err = errno;
        free(out);
        *outp = xstrdup("");
        return -err;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    for (;;) {
        ssize_t n;

        if (len + 1 >= cap) {
            out = x2nrealloc(out, &cap, 1);
        }
        n = read(fds[0], out + len, cap - len - 1);
        if (n > 0) {
            len += n;
        } else if (!n || errno != EINTR) {
            break;
        }
    }
    close(fds[0]);
    while (len && out[len - 1] == '\n') {
        len--;
    }
    out[len] = '\0';
    *outp = out;
    if (err) {
        return -err;
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

/* Runs ovsdb-tool with the arguments; on failure returns an error naming
 * 'path' and the tool's own words. */
static char * DBSERVER_WARN_UNUSED
ovsdb_tool(const struct dbserver *db, const char *path, char **outp,
           const char *cmd, const char *arg1, const char *arg2)
{
    char *argv[] = { db->tool_bin, CONST_CAST(char *, cmd),
                     CONST_CAST(char *, arg1), CONST_CAST(char *, arg2),
                     NULL };
    char *out;
    int rc = run_tool(argv, &out);

    if (rc) {
        char *error = rc < 0 && !out[0]
            ? dberr(path, "%s %s: %s", db->tool_bin, cmd, ovs_strerror(-rc))
            : dberr(path, "%s %s failed: %s", db->tool_bin, cmd,
                    out[0] ? out : "(no output)");
        free(out);
        return error;
    }
    if (outp) {
        *outp = out;
    } else {
        free(out);
    }
    return NULL;
}

static char * DBSERVER_WARN_UNUSED
copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, err = 0;
    char buf[65536];
    ssize_t n;

    if (in < 0) {
        return dberr(from, "%s", ovs_strerror(errno));
    }
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        err = errno;
    }
    while (!err && (n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 ? errno != EINTR : write(out, buf, n) != n) {
            err = errno ? errno : EIO;
        }
    }
    if (!err && fsync(out)) {
        err = errno;
    }
    close(in);
    if (out >= 0 && close(out) && !err) {
        err = errno;
    }
    return err ? dberr(to, "%s", ovs_strerror(err)) : NULL;
}

/* Creates the file, or checks it is a standalone MSLB database and converts
 * it to the schema if that is newer. */
static char * DBSERVER_WARN_UNUSED
prepare_db(const struct dbserver *db)
{
    char *error, *out, *version;

    if (access(db->db_file, F_OK)) {
        if (errno != ENOENT) {
            return dberr(db->db_file, "%s", ovs_strerror(errno));
        }
        error = ovsdb_tool(db, db->db_file, NULL, "create", db->db_file,
                           db->schema);
        if (!error) {
            VLOG_INFO("created database %s from %s", db->db_file, db->schema);
        }
        return error;
    }
    if ((error = ovsdb_tool(db, db->db_file, &out, "db-name", db->db_file,
                            NULL))) {
        return error;
    }
    if (strcmp(out, "MSLB")) {
        error = dberr(db->db_file, "is database \"%s\", not MSLB", out);
        free(out);
        return error;
    }
    free(out);
    if ((error = ovsdb_tool(db, db->db_file, NULL, "db-is-standalone",
                            db->db_file, NULL))) {
        free(error);
        return dberr(db->db_file, "is not a standalone database (a "
                     "clustered one is served by its cluster: use "
                     "--db-remote)");
    }
    if ((error = ovsdb_tool(db, db->db_file, &out, "needs-conversion",
                            db->db_file, db->schema))) {
        return error;
    }
    if (strcmp(out, "yes")) {
        free(out);
        return NULL;
    }
    free(out);
    if ((error = ovsdb_tool(db, db->db_file, &version, "db-version",
                            db->db_file, NULL))) {
        return error;
    }
    char *backup = xasprintf("%s.backup-%s", db->db_file, version);
    error = access(backup, F_OK) ? copy_file(db->db_file, backup) : NULL;
    if (!error) {
        error = ovsdb_tool(db, db->db_file, NULL, "convert", db->db_file,
                           db->schema);
    }
    if (!error) {
        VLOG_INFO("converted database %s from version %s to %s (old copy: "
                 "%s)", db->db_file, version, db->schema, backup);
    }
    free(backup);
    free(version);
    return error;
}

/* Pid of the live process holding 'pidfile' locked, or 0.  The lock goes
 * with the process, also when it stays a zombie nobody reaps (so kill(pid,
 * 0) cannot tell). */
static pid_t
pidfile_owner(const char *pidfile)
{
    pid_t pid;

    if (access(pidfile, F_OK)) {
        return 0;           /* read_pidfile() would log a warning. */
    }
    pid = read_pidfile(pidfile);
    return pid > 0 && pid != getpid() ? pid : 0;
}

static bool
wait_pidfile_free(const char *pidfile, int ms)
{
    for (int i = 0; i < ms / 10 && pidfile_owner(pidfile); i++) {
        sleep_ms(10);
    }
    return !pidfile_owner(pidfile);
}

/* A server that outlived its mslbd (kill -9) still holds the database: its
 * pidfile is locked.  Stop it so the server we start is our own child. */
static char * DBSERVER_WARN_UNUSED
stop_stale(const struct dbserver *db)
{
    pid_t pid = pidfile_owner(db->pidfile);

    if (!pid) {
        return NULL;
    }
    VLOG_WARN("%s: ovsdb-server %ld from an earlier mslbd still runs; "
             "stopping it", db->pidfile, (long) pid);
    kill(pid, SIGTERM);
    if (!wait_pidfile_free(db->pidfile, 3000)) {
        kill(pid, SIGKILL);
        if (!wait_pidfile_free(db->pidfile, 1000)) {
            return dberr(db->pidfile, "ovsdb-server %ld does not stop",
                         (long) pid);
        }
    }
    return NULL;
}

static void handle_closed(uv_handle_t *);
static void on_child_exit(uv_process_t *, int64_t status, int term_signal);

static int
spawn_child(struct dbserver *db)
{
    char *remote = xasprintf("--remote=punix:%s", db->sock);
    char *pidfile = xasprintf("--pidfile=%s", db->pidfile);
    char *ctl = xasprintf("--unixctl=%s", db->ctl);
    char *log_file = xasprintf("--log-file=%s", db->log_file);
    /* -vconsole first: it must apply to --log-file's own message.  Run
     * through util-linux's setpriv, when there, so that the server gets
     * SIGTERM when mslbd dies however it dies (kill -9 included): a
     * supervised server must not outlive its supervisor. */
    static const char setpriv[] = "/usr/bin/setpriv";
    bool pdeath = !access(setpriv, X_OK);
    char *args[] = { (char *) setpriv, "--pdeathsig", "TERM", "--",
                     db->server_bin, "-vconsole:err", db->db_file, remote,
                     pidfile, ctl, log_file, "--no-chdir", NULL };
    char **argv = pdeath ? args : args + 4;
    /* No inherited stdout/stderr: a server outliving mslbd (kill -9) would
     * hold the pipes of whoever reads mslbd's output (ctest, a test
     * harness) open.  It logs to its log file. */
    uv_stdio_container_t stdio[3] = {
        { .flags = UV_IGNORE }, { .flags = UV_IGNORE },
        { .flags = UV_IGNORE },
    };
    uv_process_options_t po = {
        .exit_cb = on_child_exit,
        .file = argv[0],
        .args = argv,
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    uv_process_t *child = xzalloc(sizeof *child);
    int err;

    child->data = db;
    child_private_fds();
    err = uv_spawn(db->loop, child, &po);
    if (err) {
        /* A failed uv_spawn() still initialized the handle. */
        db->n_open_handles++;
        uv_close((uv_handle_t *) child, handle_closed);
    } else {
        db->n_open_handles++;
        db->child = child;
        db->child_started_ms = now_ms();
        VLOG_INFO("ovsdb-server %d serving %s on %s", child->pid, db->db_file,
                 db->sock);
    }
    free(remote);
    free(pidfile);
    free(ctl);
    free(log_file);
    return err;
}

static void
on_restart_timer(uv_timer_t *timer)
{
    struct dbserver *db = timer->data;
    char *error;
    int err;

    if (db->stopping || db->child) {
        return;
    }
    db->restarts++;
    error = stop_stale(db);
    if (error) {
        VLOG_ERR("%s", error);
        free(error);
    }
    err = spawn_child(db);
    if (err) {
        VLOG_ERR("%s: cannot start ovsdb-server: %s; again in %d ms",
                db->server_bin, uv_strerror(err), db->backoff_ms);
        uv_timer_start(db->restart_timer, on_restart_timer, db->backoff_ms,
                       0);
        db->backoff_ms = MIN(db->backoff_ms * 2, BACKOFF_MAX_MS);
    }
}

static void
on_child_exit(uv_process_t *child, int64_t status, int term_signal)
{
    struct dbserver *db = child->data;

    db->child = NULL;
    uv_close((uv_handle_t *) child, handle_closed);
    if (db->starting) {
        db->start_exited = true;
        return;
    }
    if (db->stopping) {
        return;
    }
    if (now_ms() - db->child_started_ms >= STABLE_MS) {
        db->backoff_ms = BACKOFF_MIN_MS;
    }
    VLOG_ERR("ovsdb-server for %s exited (status %lld, signal %d): "
            "restarting in %d ms (its log: %s)", db->db_file,
            (long long) status, term_signal, db->backoff_ms, db->log_file);
    uv_timer_start(db->restart_timer, on_restart_timer, db->backoff_ms, 0);
    db->backoff_ms = MIN(db->backoff_ms * 2, BACKOFF_MAX_MS);
}

static bool
socket_answers(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ovs_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    ok = !connect(fd, (struct sockaddr *) &sun, sizeof sun);
    close(fd);
    return ok;
}

/* The last line of the server's log that says ERR or EMER, if any. */
static char *
log_reason(const char *log_file)
{
    FILE *f = fopen(log_file, "r");
    char line[512], *reason = NULL;

    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "|ERR|") || strstr(line, "|EMER|")) {
            line[strcspn(line, "\n")] = '\0';
            free(reason);
            reason = xstrdup(line);
        }
    }
    if (f) {
        fclose(f);
    }
    return reason ? reason : xstrdup("see its log");
}

static char * DBSERVER_WARN_UNUSED
start_own(struct dbserver *db, const struct dbserver_options *o)
{
    int timeout_ms = o->start_timeout_ms > 0 ? o->start_timeout_ms : 10000;
    char *run_dir, *error, *reason;
    struct sockaddr_un sun;
    uint64_t deadline;
    int err;

    if (o->run_dir) {
        run_dir = xstrdup(o->run_dir);
    } else {
        run_dir = dir_name(o->db_file);
    }
    db->db_file = xstrdup(o->db_file);
    db->schema = o->schema ? xstrdup(o->schema) : dbserver_find_schema();
    db->server_bin = o->bin_dir ? xasprintf("%s/ovsdb-server", o->bin_dir)
                                : xstrdup("ovsdb-server");
    db->tool_bin = o->bin_dir ? xasprintf("%s/ovsdb-tool", o->bin_dir)
                              : xstrdup("ovsdb-tool");
    db->sock = xasprintf("%s/mslb-db.sock", run_dir);
    db->pidfile = xasprintf("%s/mslb-db.pid", run_dir);
    db->ctl = xasprintf("%s/mslb-db.ctl", run_dir);
    db->log_file = xasprintf("%s/mslb-db.log", run_dir);
    db->remote = xasprintf("unix:%s", db->sock);
    db->backoff_ms = BACKOFF_MIN_MS;
    free(run_dir);

    if (strlen(db->sock) >= sizeof sun.sun_path) {
        return dberr(db->sock, "socket path longer than %zu bytes: choose "
                     "a shorter run directory",
                     sizeof sun.sun_path - 1);
    }
    db->restart_timer = xzalloc(sizeof *db->restart_timer);
    uv_timer_init(db->loop, db->restart_timer);
    db->restart_timer->data = db;
    db->n_open_handles++;

    if ((error = stop_stale(db)) || (error = prepare_db(db))) {
        return error;
    }
    db->starting = true;
    err = spawn_child(db);
    if (err) {
        db->starting = false;
        return dberr(db->server_bin, "%s", uv_strerror(err));
    }
    deadline = now_ms() + timeout_ms;
    while (!db->start_exited && now_ms() < deadline
           && !socket_answers(db->sock)) {
        sleep_ms(5);
        uv_run(db->loop, UV_RUN_NOWAIT);    /* Delivers an early exit. */
    }
    db->starting = false;
    if (db->start_exited) {
        reason = log_reason(db->log_file);
        error = dberr(db->db_file, "ovsdb-server exited at start: %s (log "
                      "%s)", reason, db->log_file);
        free(reason);
        return error;
    }
    if (!socket_answers(db->sock)) {
        return dberr(db->sock, "ovsdb-server did not answer within %d ms",
                     timeout_ms);
    }
    return NULL;
}

char *
dbserver_find_schema(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n > 0) {
        static const char *const rel[] = {
            "../share/mslb/mslb.ovsschema",     /* Installed: PREFIX/sbin. */
            "../schemas/mslb.ovsschema",        /* A build directory. */
        };
        char *dir;

        exe[n] = '\0';
        dir = dir_name(exe);
        for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
            char *path = xasprintf("%s/%s", dir, rel[i]);
            char *real = realpath(path, NULL);

            free(path);
            if (real && !access(real, R_OK)) {
                free(dir);
                return real;
            }
            free(real);
        }
        free(dir);
    }
    return xstrdup(MSLB_OVSDB_SCHEMA_INSTALLED);
}

char *
dbserver_start(uv_loop_t *loop, const struct dbserver_options *o,
               struct dbserver **dbp)
{
    struct dbserver *db = xzalloc(sizeof *db);
    char *error;

    *dbp = NULL;
    db->loop = loop;
    db->sync_fd = -1;
    if (o->remote) {
        db->external = true;
        db->remote = xstrdup(o->remote);
        *dbp = db;
        return NULL;
    }
    if (!o->db_file) {
        free(db);
        return xstrdup("dbserver: neither a database file nor a remote");
    }
    error = start_own(db, o);
    if (error) {
        dbserver_destroy(db);
        return error;
    }
    *dbp = db;
    return NULL;
}

const char *
dbserver_remote(const struct dbserver *db)
{
    return db->remote;
}

int
dbserver_pid(const struct dbserver *db)
{
    return db->child ? db->child->pid : 0;
}

unsigned int
dbserver_restarts(const struct dbserver *db)
{
    return db->restarts;
}

int
dbserver_sync(struct dbserver *db)
{
    struct stat st;

    if (db->external) {
        return 0;
    }
    /* Compaction renames a new file over the old one: follow it. */
    if (db->sync_fd >= 0
        && (stat(db->db_file, &st) || st.st_ino != db->sync_st.st_ino
            || st.st_dev != db->sync_st.st_dev)) {
        close(db->sync_fd);
        db->sync_fd = -1;
    }
    if (db->sync_fd < 0) {
        db->sync_fd = open(db->db_file, O_RDONLY | O_CLOEXEC);
        if (db->sync_fd < 0 || fstat(db->sync_fd, &db->sync_st)) {
            return errno;
        }
    }
    return fdatasync(db->sync_fd) ? errno : 0;
}

static void
dbserver_free(struct dbserver *db)
{
    if (db->sync_fd >= 0) {
        close(db->sync_fd);
    }
    free(db->remote);
    free(db->db_file);
    free(db->schema);
    free(db->server_bin);
    free(db->tool_bin);
    free(db->sock);
    free(db->pidfile);
    free(db->ctl);
    free(db->log_file);
    free(db);
}

static void
handle_closed(uv_handle_t *h)
{
    struct dbserver *db = h->data;

    free(h);
    if (!--db->n_open_handles && db->stopping) {
        dbserver_free(db);
    }
}

/* Stops the child and reaps it (child_stop()). */
static void
stop_child(struct dbserver *db)
{
    child_stop(db->child->pid, "ovsdb-server");
    uv_close((uv_handle_t *) db->child, handle_closed);
    db->child = NULL;
}

void
dbserver_destroy(struct dbserver *db)
{
    if (!db) {
        return;
    }
    db->stopping = true;
    if (db->child) {
        stop_child(db);
    }
    if (db->restart_timer) {
        uv_close((uv_handle_t *) db->restart_timer, handle_closed);
        db->restart_timer = NULL;
    }
    if (!db->n_open_handles) {
        dbserver_free(db);
    }
}
