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

#include "util.h"
#include "log.h"
#include "ofconn.h"

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

static void
reload(struct mslbd *d)
{
    struct model *m;
    char *error = model_from_file(d->config_file, &m);

    if (error) {
        LOG_ERR("config %s rejected: %s; keeping generation %"PRIu64,
                d->config_file, error, d->generation);
        free(error);
        return;
    }
    model_destroy(d->model);
    d->model = m;
    d->generation++;
    LOG_INFO("config %s loaded: generation %"PRIu64", %zu bridges, %zu "
             "services", d->config_file, d->generation, m->n_bridges,
             m->n_services);
    for (size_t i = 0; i < d->n_conns; i++) {
        ofconn_sync(d->conns[i]);
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
           "  -v, --verbose         debug logging\n"
           "With no --listen or --connect, listens on ptcp:6653:127.0.0.1.\n",
           name, name);
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

    set_program_name(argv[0]);
    while ((opt = getopt_long(argc, argv, "c:l:C:vh", options, NULL)) != -1) {
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
        case 'h': usage(argv[0]); return 0;
        default: usage(argv[0]); return 2;
        }
    }
    if (!d.config_file || optind != argc) {
        usage(argv[0]);
        return 2;
    }

    error = model_from_file(d.config_file, &d.model);
    if (error) {
        fprintf(stderr, "mslbd: config %s rejected: %s\n", d.config_file,
                error);
        free(error);
        return 1;
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

    d.loop = uv_default_loop();
    LOG_INFO("mslbd starting: config %s, generation %"PRIu64", %zu bridges, "
             "%zu services", d.config_file, d.generation,
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
            LOG_ERR("%s: %s", pidfile, strerror(err));
            return 1;
        }
        atexit(remove_pidfile);
    }
    uv_run(d.loop, UV_RUN_DEFAULT);
    model_destroy(d.model);
    return 0;
}
