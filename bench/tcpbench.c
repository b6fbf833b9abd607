/* bench/tcpbench.c: the TCP load of bench/dataplane.sh.
 *
 *   tcpbench serve PORT...           answer requests on every PORT (epoll)
 *   tcpbench conn HOST PORT N CONC SECONDS [SPORT]
 *                                    N short connections, CONC at a time:
 *                                    connect, send a request, read the
 *                                    answer and the server's close, close;
 *                                    from source ports SPORT, SPORT+1...
 *                                    (the kernel's choice repeats ports
 *                                    long before 65,536 connections)
 *   tcpbench rr HOST PORT N SECONDS  N request/answer round trips on one
 *                                    connection, timed one by one
 *
 * A request is REQ_SIZE bytes; its first byte says what the server does
 * after answering with REQ_SIZE bytes: 'C' close (the server closes first,
 * so the client keeps no TIME_WAIT and never runs out of ports), 'R' keep
 * the connection for the next request.  conn and rr print one JSON line;
 * both stop at N or after SECONDS, whichever comes first. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE 64
#define MAX_CONC 1024

struct conn {
    int fd;
    int got;                    /* bytes of the answer (client) or request */
    char buf[REQ_SIZE];
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
    perror(what);
    exit(2);
}

static void
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        die("fcntl");
    }
}

static struct sockaddr_storage
resolve(const char *host, const char *port, socklen_t *len)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
    struct addrinfo *ai;
    struct sockaddr_storage ss;
    int err = getaddrinfo(host, port, &hints, &ai);

    if (err) {
        fprintf(stderr, "%s:%s: %s\n", host, port, gai_strerror(err));
        exit(2);
    }
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return ss;
}

/* ---------------------------------------------------------------- server */

static int
serve(int nports, char **ports)
{
    int ep = epoll_create1(0);
    int i;

    if (ep < 0) {
        die("epoll_create1");
    }
    for (i = 0; i < nports; i++) {
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
                                   .sin6_port = htons(atoi(ports[i])) };
        int one = 1, zero = 0;
        int fd = socket(AF_INET6, SOCK_STREAM, 0);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

        if (fd < 0) {
            die("socket");
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) || listen(fd, 4096)) {
            die(ports[i]);
        }
        set_nonblock(fd);
        /* Listening sockets carry their fd with the low bit set. */
        ev.data.u64 = ((uint64_t) fd << 1) | 1;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
            die("epoll_ctl");
        }
    }
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, -1);

        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (i = 0; i < n; i++) {
            if (evs[i].data.u64 & 1) {
                int lfd = evs[i].data.u64 >> 1, fd;

                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct conn *c = calloc(1, sizeof *c);
                    struct epoll_event ev = { .events = EPOLLIN };
                    int one = 1;

                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c->fd = fd;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            struct conn *c = evs[i].data.ptr;
            bool done = false;

            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->got, REQ_SIZE - c->got);

                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    done = true;
                    break;
                }
                if (r < 0) {
                    break;
                }
                c->got += r;
                if (c->got == REQ_SIZE) {
                    c->got = 0;
                    /* The answer fits the socket buffer of a fresh
                     * connection: one write. */
                    if (write(c->fd, c->buf, REQ_SIZE) != REQ_SIZE
                        || c->buf[0] == 'C') {
                        done = true;
                        break;
                    }
                }
            }
            if (done) {
                close(c->fd);
                free(c);
            }
        }
    }
    return 0;
}

/* ----------------------------------------------------------- new conns */

struct client {
    struct sockaddr_storage sa;
    socklen_t salen;
    int ep;
    long started, ok, errors;
    long n;
    int sport;                  /* next source port, 0: the kernel's */
};

static void
conn_open(struct client *cl, struct conn *c)
{
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

    c->fd = socket(cl->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        die("socket");
    }
    c->got = -1;                /* connecting */
    cl->started++;
    if (cl->sport) {
        struct sockaddr_storage src;
        int one = 1;

        memset(&src, 0, sizeof src);
        src.ss_family = cl->sa.ss_family;
        if (src.ss_family == AF_INET) {
            ((struct sockaddr_in *) &src)->sin_port = htons(cl->sport);
        } else {
            ((struct sockaddr_in6 *) &src)->sin6_port = htons(cl->sport);
        }
        cl->sport = cl->sport == 65535 ? 1024 : cl->sport + 1;
        setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *) &src, cl->salen)) {
            cl->errors++;
            close(c->fd);
            c->fd = -1;
            return;
        }
    }
    if (connect(c->fd, (struct sockaddr *) &cl->sa, cl->salen)
        && errno != EINPROGRESS) {
        cl->errors++;
        close(c->fd);
        c->fd = -1;
        return;
    }
    epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
conn_close(struct client *cl, struct conn *c, bool ok)
{
    epoll_ctl(cl->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (ok) {
        cl->ok++;
    } else {
        cl->errors++;
    }
}

/* One step of a connection: returns after it would block or is done. */
static void
conn_step(struct client *cl, struct conn *c)
{
    if (c->got < 0) {
        int err = 0;
        socklen_t len = sizeof err;
        char req[REQ_SIZE];
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_close(cl, c, false);
            return;
        }
        memset(req, 'C', sizeof req);
        if (write(c->fd, req, sizeof req) != sizeof req) {
            conn_close(cl, c, false);
            return;
        }
        c->got = 0;
        epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
    }
    for (;;) {
        ssize_t r = read(c->fd, c->buf, sizeof c->buf);

        if (r > 0) {
            c->got += r;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        /* EOF: the server answered and closed. */
        conn_close(cl, c, r == 0 && c->got == REQ_SIZE);
        return;
    }
}

static int
run_conn(const char *host, const char *port, long n, int conc, double secs,
         int sport)
{
    static struct conn conns[MAX_CONC];
    struct client cl = { .n = n, .sport = sport };
    double t0, t1, deadline;
    int i;

    if (conc < 1 || conc > MAX_CONC) {
        fprintf(stderr, "concurrency 1..%d\n", MAX_CONC);
        return 2;
    }
    for (i = 0; i < MAX_CONC; i++) {
        conns[i].fd = -1;
    }
    cl.sa = resolve(host, port, &cl.salen);
    cl.ep = epoll_create1(0);
    t0 = now();
    deadline = t0 + secs;
    for (i = 0; i < conc && cl.started < n; i++) {
        conn_open(&cl, &conns[i]);
    }
    while (cl.ok + cl.errors < cl.started || cl.started < n) {
        struct epoll_event evs[MAX_CONC];
        int k, m;

        if (now() >= deadline) {
            break;
        }
        m = epoll_wait(cl.ep, evs, MAX_CONC, 100);
        for (k = 0; k < m; k++) {
            conn_step(&cl, evs[k].data.ptr);
        }
        for (i = 0; i < conc; i++) {
            if (conns[i].fd < 0 && cl.started < n && now() < deadline) {
                conn_open(&cl, &conns[i]);
            }
        }
    }
    t1 = now();
    printf("{\"connections\": %ld, \"errors\": %ld, \"unfinished\": %ld, "
           "\"seconds\": %.3f, \"per_second\": %.1f}\n",
           cl.ok, cl.errors, cl.started - cl.ok - cl.errors, t1 - t0,
           cl.ok / (t1 - t0));
    return cl.ok > 0 ? 0 : 1;
}

/* ------------------------------------------------------ request/answer */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static int
run_rr(const char *host, const char *port, long n, double secs)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    double *rtt = calloc(n, sizeof *rtt), t0, deadline, sum = 0;
    char req[REQ_SIZE], buf[REQ_SIZE];
    struct timeval tv = { .tv_sec = 2 };
    long i, done = 0;
    int one = 1, fd;

    sa = resolve(host, port, &salen);
    fd = socket(sa.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || !rtt) {
        die("socket");
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sa, salen)) {
        die("connect");
    }
    memset(req, 'R', sizeof req);
    t0 = now();
    deadline = t0 + secs;
    for (i = 0; i < n && now() < deadline; i++) {
        double s = now();
        int got = 0;

        if (write(fd, req, sizeof req) != sizeof req) {
            break;
        }
        while (got < REQ_SIZE) {
            ssize_t r = read(fd, buf, REQ_SIZE - got);

            if (r <= 0) {
                goto out;
            }
            got += r;
        }
        rtt[done++] = (now() - s) * 1e6;
    }
out:
    close(fd);
    if (!done) {
        printf("{\"round_trips\": 0}\n");
        return 1;
    }
    for (i = 0; i < done; i++) {
        sum += rtt[i];
    }
    qsort(rtt, done, sizeof *rtt, cmp_double);
    printf("{\"round_trips\": %ld, \"p50_us\": %.1f, \"p99_us\": %.1f, "
           "\"mean_us\": %.1f, \"max_us\": %.1f}\n", done,
           rtt[done / 2], rtt[(done * 99) / 100], sum / done, rtt[done - 1]);
    free(rtt);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "serve")) {
        return serve(argc - 2, argv + 2);
    }
    if ((argc == 7 || argc == 8) && !strcmp(argv[1], "conn")) {
        return run_conn(argv[2], argv[3], atol(argv[4]), atoi(argv[5]),
                        atof(argv[6]), argc == 8 ? atoi(argv[7]) : 0);
    }
    if (argc == 6 && !strcmp(argv[1], "rr")) {
        return run_rr(argv[2], argv[3], atol(argv[4]), atof(argv[5]));
    }
    fprintf(stderr, "usage: tcpbench serve PORT... | "
            "conn HOST PORT N CONC SECONDS [SPORT] | rr HOST PORT N SECONDS\n");
    return 2;
}
