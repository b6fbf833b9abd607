/* mslbd: the mslb controller daemon.
 *
 *   mslbd --config FILE [--listen TARGET]... [--connect TARGET]...
 *         [--pidfile FILE] [--log-file FILE] [--verbose]
 *   mslbd --check --config FILE
 *
 * SIGHUP reloads the config file: a valid file becomes the next generation,
 * an invalid one is logged and changes nothing.  SIGTERM/SIGINT stop the
 * daemon and leave every bridge's flows in place. */
#include <config.h>
#include "mslbd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <libgen.h>

#include "util.h"
#include "dbserver.h"
#include "log.h"
#include "ofconn.h"
#include "rest.h"

void
mslbd_add_conn(struct mslbd *d, struct ofconn *c)
{
    if (d->n_conns >= d->allocated_conns) {
        d->conns = x2nrealloc(d->conns, &d->allocated_conns,
                              sizeof *d->conns);
    }
    d->conns[d->n_conns++] = c;
}

void
mslbd_remove_conn(struct mslbd *d, struct ofconn *c)
{
    for (size_t i = 0; i < d->n_conns; i++) {
        if (d->conns[i] == c) {
            d->conns[i] = d->conns[--d->n_conns];
            return;
        }
    }
}

/* Writes the model to the state file: a temporary file, fsync, rename,
 * fsync of the directory.  A crash leaves the old or the new file, never a
 * mix.  Returns 0 or an errno value. */
static int
save_state(const struct mslbd *d, const struct model *m)
{
    char *tmp, *dir_copy, *text;
    json_t *j;
    size_t len;
    int fd, err = 0;

    if (!d->state_file) {
        return 0;
    }
    tmp = xasprintf("%s.tmp", d->state_file);
    j = model_to_json(m);
    /* One buffer, one write: json_dumpfd() would write token by token. */
    text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(j);
    len = strlen(text);
    text[len++] = '\n';    /* Replaces the NUL; 'len' bytes go out. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    for (size_t ofs = 0; fd >= 0 && ofs < len && !err; ) {
        ssize_t n = write(fd, text + ofs, len - ofs);
        if (n < 0 && errno != EINTR) {
            err = errno;
        } else if (n > 0) {
            ofs += n;
        }
    }
    if (fd < 0 || (!err && fsync(fd))) {
        err = errno ? errno : EIO;
    }
    if (fd >= 0 && close(fd) && !err) {
        err = errno;
    }
    free(text);
    if (!err && rename(tmp, d->state_file)) {
        err = errno;
    }
    if (err) {
        unlink(tmp);
    } else {
        dir_copy = xstrdup(d->state_file);
        fd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        free(dir_copy);
    }
    free(tmp);
    return err;
}

int
mslbd_set_model(struct mslbd *d, struct model *m)
{
    int err = save_state(d, m);

    if (err) {
        LOG_ERR("cannot save state file %s: %s; change refused",
                d->state_file, strerror(err));
        model_destroy(m);
        return err;
    }
    model_destroy(d->model);
    d->model = m;
    d->generation++;
    LOG_INFO("model changed: generation %"PRIu64", %zu bridges, %zu "
             "services", d->generation, m->n_bridges, m->n_services);
    for (size_t i = 0; i < d->n_conns; i++) {
        ofconn_sync(d->conns[i]);
    }
    return 0;
}

void
mslbd_bridges_changed(struct mslbd *d)
{
    rest_server_poll_waiters(d->rest);
}

static void
reload(struct mslbd *d)
{
    struct model *m;
    char *error;

    if (!d->config_file) {
        LOG_WARN("SIGHUP: no config file to reload");
        return;
    }
    error = model_from_file(d->config_file, &m);
    if (error) {
        LOG_ERR("config %s rejected: %s; keeping generation %"PRIu64,
                d->config_file, error, d->generation);
        free(error);
        return;
    }
    if (!mslbd_set_model(d, m)) {
        LOG_INFO("config %s loaded: generation %"PRIu64, d->config_file,
                 d->generation);
    }
}

static void
on_signal(uv_signal_t *handle, int signum)
{
    struct mslbd *d = handle->data;

    if (signum == SIGHUP) {
        reload(d);
    } else {
        LOG_INFO("signal %d: exiting; bridges keep their flows", signum);
        ofconn_close_listeners();
        rest_server_stop(d->rest);
        uv_stop(d->loop);
    }
}

static const char *pidfile;

static void
remove_pidfile(void)
{
    if (pidfile) {
        unlink(pidfile);
    }
}

static int
write_pidfile(const char *file_name)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", file_name);
    f = fopen(tmp, "w");
    if (!f) {
        return errno;
    }
    fprintf(f, "%ld\n", (long) getpid());
    if (fclose(f) || rename(tmp, file_name)) {
        return errno;
    }
    return 0;
}

static void
usage(const char *name)
{
    printf("%s: the mslb load balancer controller\n"
           "usage: %s --config FILE [OPTIONS]\n"
           "  -c, --config FILE     services and bridges (JSON)\n"
           "  -l, --listen TARGET   ptcp:PORT[:IP] or punix:PATH "
           "(repeatable)\n"
           "  -C, --connect TARGET  tcp:IP:PORT or unix:PATH (repeatable)\n"
           "      --pidfile FILE    write the process id to FILE\n"
           "      --log-file FILE   also log to FILE\n"
           "      --check           validate the config and exit\n"
           "  -s, --state FILE      keep the model in FILE across restarts\n"
           "      --rest [IP:]PORT  serve the REST API (IP default 127.0.0.1)\n"
           "      --rest-token-file FILE  require this bearer token\n"
           "      --rest-cert FILE, --rest-key FILE  serve HTTPS\n"
           "      --schemas DIR     JSON Schemas (default: %s)\n"
           "      --db FILE         run an ovsdb-server on FILE (created if "
           "absent)\n"
           "      --db-run-dir DIR  its socket, pidfile and log (default: "
           "FILE's dir)\n"
           "      --db-remote REMOTE  use this OVSDB server instead\n"
           "  -v, --verbose         debug logging\n"
           "With no --listen or --connect, listens on ptcp:6653:127.0.0.1.\n"
           "With --state, a saved state wins over --config, which then only\n"
           "seeds a new state file; SIGHUP always reloads --config.\n",
           name, name, MSLB_SCHEMA_DIR);
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
        { "verbose", no_argument, NULL, 'v' },
        { "state", required_argument, NULL, 's' },
        { "rest", required_argument, NULL, 'R' },
        { "rest-token-file", required_argument, NULL, 'T' },
        { "rest-cert", required_argument, NULL, 'E' },
        { "rest-key", required_argument, NULL, 'K' },
        { "schemas", required_argument, NULL, 'S' },
        { "db", required_argument, NULL, 'D' },
        { "db-run-dir", required_argument, NULL, 'U' },
        { "db-remote", required_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listens[32], *connects[32], *log_file = NULL;
    size_t n_listens = 0, n_connects = 0;
    struct mslbd d = { .generation = 1 };
    uv_signal_t sighup, sigterm, sigint;
    bool check = false;
    char *error;
    int opt;
    const char *rest_listen = NULL, *token_file = NULL;
    struct dbserver_options dbo = { 0 };
    struct dbserver *db = NULL;
    struct rest_options ro = {
        .schema_dir = MSLB_SCHEMA_DIR,
        .max_body = 1024 * 1024,
    };

    set_program_name(argv[0]);
    while ((opt = getopt_long(argc, argv, "c:l:C:s:vh", options, NULL))
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
        case 'v': mslb_log_set_level(MSLB_LOG_DBG); break;
        case 's': d.state_file = optarg; break;
        case 'R': rest_listen = optarg; break;
        case 'T': token_file = optarg; break;
        case 'E': ro.cert_file = optarg; break;
        case 'K': ro.key_file = optarg; break;
        case 'S': ro.schema_dir = optarg; break;
        case 'D': dbo.db_file = optarg; break;
        case 'U': dbo.run_dir = optarg; break;
        case 'B': dbo.remote = optarg; break;
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 2;
        }
    }
    if ((!d.config_file && !d.state_file) || optind != argc
        || (check && !d.config_file)) {
        usage(argv[0]);
        return 2;
    }

    bool from_state = d.state_file && !check && !access(d.state_file, F_OK);
    if (from_state) {
        error = model_from_file(d.state_file, &d.model);
        if (error) {
            fprintf(stderr, "mslbd: state file %s is damaged: %s; refusing "
                    "to start and leaving the file untouched (fix it or "
                    "move it away)\n", d.state_file, error);
            free(error);
            return 1;
        }
    } else if (d.config_file) {
        error = model_from_file(d.config_file, &d.model);
        if (error) {
            fprintf(stderr, "mslbd: config %s rejected: %s\n",
                    d.config_file, error);
            free(error);
            return 1;
        }
    } else {
        json_t *empty = json_pack("{s:[], s:[]}", "bridges", "services");
        error = model_from_json(empty, &d.model);
        json_decref(empty);
        ovs_assert(!error);
    }
    if (check) {
        printf("mslbd: config %s is valid: %zu bridges, %zu services\n",
               d.config_file, d.model->n_bridges, d.model->n_services);
        model_destroy(d.model);
        return 0;
    }
    if (mslb_log_open(log_file)) {
        fprintf(stderr, "mslbd: %s: %s\n", log_file, strerror(errno));
        return 1;
    }

    if (d.state_file && !from_state) {
        int err = save_state(&d, d.model);
        if (err) {
            fprintf(stderr, "mslbd: cannot write state file %s: %s\n",
                    d.state_file, strerror(err));
            return 1;
        }
    }

    d.loop = uv_default_loop();
    d.started_ms = uv_hrtime() / 1000000;
    LOG_INFO("mslbd starting: model from %s, generation %"PRIu64", %zu "
             "bridges, %zu services", from_state ? d.state_file
             : d.config_file ? d.config_file : "(empty)", d.generation,
             d.model->n_bridges, d.model->n_services);
    if (!n_listens && !n_connects) {
        listens[n_listens++] = "ptcp:6653:127.0.0.1";
    }
    for (size_t i = 0; i < n_listens; i++) {
        if ((error = ofconn_listen(&d, listens[i]))) {
            LOG_ERR("cannot listen: %s", error);
            return 1;
        }
    }
    for (size_t i = 0; i < n_connects; i++) {
        if ((error = ofconn_connect(&d, connects[i]))) {
            LOG_ERR("cannot connect: %s", error);
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
                LOG_ERR("cannot read token file %s", token_file);
                return 1;
            }
            fclose(f);
            buf[strcspn(buf, "\r\n")] = '\0';
            if (!buf[0]) {
                LOG_ERR("token file %s is empty", token_file);
                return 1;
            }
            token = xstrdup(buf);
        }
        ro.listen = listen;
        ro.token = token;
        if ((error = rest_server_start(&d, &ro, &d.rest))) {
            LOG_ERR("cannot start the REST API: %s", error);
            return 1;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    /* The model's database (docs/database.md); not read yet. */
    if (dbo.db_file || dbo.remote) {
        if ((error = dbserver_start(d.loop, &dbo, &db))) {
            LOG_ERR("cannot start the database: %s", error);
            return 1;
        }
        LOG_INFO("database at %s", dbserver_remote(db));
    }
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
            LOG_ERR("%s: %s", pidfile, strerror(err));
            return 1;
        }
        atexit(remove_pidfile);
    }
    uv_run(d.loop, UV_RUN_DEFAULT);
    dbserver_destroy(db);
    model_destroy(d.model);
    free(d.conns);
    free(token);
    free(listen);
    return 0;
}
