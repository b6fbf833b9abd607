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

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <libgen.h>

#include <uv.h>

#include "openvswitch/vlog.h"
#include "util.h"
#include "bridges.h"
#include "mslb/model.h"
#include "rest.h"

VLOG_DEFINE_THIS_MODULE(mslbd);

/* The daemon: the top of the call graph.  It owns the loop, the model,
 * the bridge table and the REST server; the modules below get what they
 * need as arguments and answer through callbacks. */
struct mslbd {
    uv_loop_t *loop;
    struct model *model;        /* Current model, never NULL once running. */
    uint64_t generation;        /* Bumped by every accepted model change. */
    char *config_file;
    char *state_file;           /* Saved on every accepted change, or NULL. */
    struct bridges *bridges;
    struct rest_server *rest;
    struct rest_env rest_env;   /* What the REST server sees. */
};

/* Log modules of mslbd's own, for --verbose. */
static const char *const mslb_modules[] = {
    "mslbd", "bridges", "desired", "reconciler", "ofsession", "rest",
};

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

/* Tells the bridges and the REST server about the current model. */
static void
publish_model(struct mslbd *d)
{
    d->rest_env.model = d->model;
    d->rest_env.generation = d->generation;
    bridges_set_model(d->bridges, d->model, d->generation);
}

/* Replaces the model (taking ownership), bumps the generation, saves the
 * state file and brings every bridge in step.  Returns 0, or an errno value
 * if the state could not be saved (then nothing changed). */
static int
set_model(struct mslbd *d, struct model *m)
{
    int err = save_state(d, m);
    struct model *old = d->model;

    if (err) {
        VLOG_ERR("cannot save state file %s: %s; change refused",
                 d->state_file, strerror(err));
        model_destroy(m);
        return err;
    }
    d->model = m;
    d->generation++;
    VLOG_INFO("model changed: generation %"PRIu64", %zu bridges, %zu "
              "services", d->generation, m->n_bridges, m->n_services);
    publish_model(d);
    model_destroy(old);         /* Only once nothing points to it. */
    return 0;
}

static int
rest_set_model(void *d, struct model *m)
{
    return set_model(d, m);
}

/* A bridge installed a generation, connected or went away. */
static void
on_bridges_changed(void *d_)
{
    struct mslbd *d = d_;
    if (d->rest) {
        rest_server_poll_waiters(d->rest);
    }
}

static const struct bridges_cbs bridges_cbs = {
    .changed = on_bridges_changed,
};

/* Logs go to stderr and, with --log-file, to that file, as
 * TIME|LEVEL|MODULE|message; never to syslog. */
static int
setup_logging(const char *log_file, bool verbose)
{
    static const char pattern[] = "%D{%Y-%m-%dT%H:%M:%S.###Z}|%p|%c|%m";

    vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
    vlog_set_pattern(VLF_CONSOLE, pattern);
    vlog_set_pattern(VLF_FILE, pattern);
    if (verbose) {
        for (size_t i = 0; i < ARRAY_SIZE(mslb_modules); i++) {
            vlog_set_levels(vlog_module_from_name(mslb_modules[i]),
                            VLF_ANY_DESTINATION, VLL_DBG);
        }
    }
    return log_file ? vlog_set_log_file(log_file) : 0;
}

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
    if (!set_model(d, m)) {
        VLOG_INFO("config %s loaded: generation %"PRIu64, d->config_file,
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
        VLOG_INFO("signal %d: exiting; bridges keep their flows", signum);
        bridges_close_listeners(d->bridges);
        rest_server_stop(d->rest);
        d->rest = NULL;
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
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listens[32], *connects[32], *log_file = NULL;
    size_t n_listens = 0, n_connects = 0;
    struct mslbd d = { .generation = 1 };
    uv_signal_t sighup, sigterm, sigint;
    bool check = false, verbose = false;
    char *error;
    int opt;
    const char *rest_listen = NULL, *token_file = NULL;
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
        case 'v': verbose = true; break;
        case 's': d.state_file = optarg; break;
        case 'R': rest_listen = optarg; break;
        case 'T': token_file = optarg; break;
        case 'E': ro.cert_file = optarg; break;
        case 'K': ro.key_file = optarg; break;
        case 'S': ro.schema_dir = optarg; break;
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
    int log_err = setup_logging(log_file, verbose);
    if (log_err) {
        fprintf(stderr, "mslbd: %s: %s\n", log_file, strerror(log_err));
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
    d.bridges = bridges_create(d.loop, &bridges_cbs, &d);
    d.rest_env = (struct rest_env) {
        .loop = d.loop,
        .started_ms = uv_hrtime() / 1000000,
        .bridges = d.bridges,
        .set_model = rest_set_model,
        .aux = &d,
    };
    publish_model(&d);
    VLOG_INFO("mslbd starting: model from %s, generation %"PRIu64", %zu "
              "bridges, %zu services", from_state ? d.state_file
              : d.config_file ? d.config_file : "(empty)", d.generation,
              d.model->n_bridges, d.model->n_services);
    if (!n_listens && !n_connects) {
        listens[n_listens++] = "ptcp:6653:127.0.0.1";
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
    uv_run(d.loop, UV_RUN_DEFAULT);
    bridges_destroy(d.bridges);
    model_destroy(d.model);
    free(token);
    free(listen);
    return 0;
}
