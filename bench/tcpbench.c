/* bench/tcpbench.c: the TCP load of bench/dataplane.sh.
 *
 *   tcpbench serve [-n NAME] PORT... answer requests on every PORT (epoll);
 *                                    with NAME, each answer starts with
 *                                    "NAME\n" (which server answered)
 *   tcpbench conn HOST PORT N CONC SECONDS [SPORT]
 *                                    N short connections, CONC at a time:
 *                                    connect, send a request, read the
 *                                    answer and the server's close, close;
 *                                    from source ports SPORT, SPORT+1...
 *                                    (the kernel's choice repeats ports
 *                                    long before 65,536 connections)
 *   tcpbench rr HOST PORT N SECONDS  N request/answer round trips on one
 *                                    connection, timed one by one
 *   tcpbench hold HOST PORT N SPORT GOFILE SECONDS
 *                                    opens N connections from source ports
 *                                    SPORT..., one request each, and keeps
 *                                    them; once GOFILE exists, one more
 *                                    request on each: which server
 *                                    answered before and after, and which
 *                                    connections broke (session affinity
 *                                    across changes)
 *
 * A request is REQ_SIZE bytes; its first byte says what the server does
 * after answering with REQ_SIZE bytes: 'C' close (the server closes first,
 * so the client keeps no TIME_WAIT and never runs out of ports), 'R' keep
 * the connection for the next request.  conn and rr print one JSON line;
 * both stop at N or after SECONDS, whichever comes first; conn counts the
 * answers per server name ("names") when the servers have one.  hold
 * prints one JSON line per phase (see run_hold()). */
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
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE 64
#define MIN(a, b) ((a) < (b) ? (a) : (b))
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

/* hold keeps N sockets open and a server as many as its clients: the
 * default soft limit (1,024) is too low for that. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ----------------------------------------------------------- server names */

#define MAX_NAMES 256

/* Server names seen in answers, and a count for each. */
struct names {
    int n;
    char name[MAX_NAMES][REQ_SIZE];
    long count[MAX_NAMES];
};

static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* The index in 'nm' (added if new) of the name an answer starts with
 * ("NAME\n"), or -1 if it has none (an anonymous server's echo) or 'nm'
 * is full. */
static int
names_find(struct names *nm, const char *answer)
{
    const char *nl = memchr(answer, '\n', REQ_SIZE);
    size_t len = nl ? nl - answer : 0;
    int i;

    if (!len) {
        return -1;
    }
    for (i = 0; i < (int) len; i++) {
        if (!name_char(answer[i])) {
            return -1;
        }
    }
    for (i = 0; i < nm->n; i++) {
        if (strlen(nm->name[i]) == len && !memcmp(nm->name[i], answer, len)) {
            return i;
        }
    }
    if (nm->n == MAX_NAMES) {
        return -1;
    }
    memcpy(nm->name[nm->n], answer, len);
    nm->name[nm->n][len] = '\0';
    return nm->n++;
}

/* Prints {"NAME": COUNT, ...} for the names of 'nm' with 'count'
 * (indexed like nm->name) nonzero. */
static void
names_print(const struct names *nm, const long *count)
{
    const char *sep = "";
    int i;

    putchar('{');
    for (i = 0; i < nm->n; i++) {
        if (count[i]) {
            printf("%s\"%s\": %ld", sep, nm->name[i], count[i]);
            sep = ", ";
        }
    }
    putchar('}');
}

/* ---------------------------------------------------------------- server */

/* The name stamped on the answers, or NULL to echo the request. */
static const char *server_name;

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
                    bool last = c->buf[0] == 'C';

                    c->got = 0;
                    if (server_name) {
                        snprintf(c->buf, REQ_SIZE, "%s\n", server_name);
                    }
                    /* The answer fits the socket buffer of a fresh
                     * connection: one write. */
                    if (write(c->fd, c->buf, REQ_SIZE) != REQ_SIZE || last) {
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
    struct names names;         /* of the servers that answered */
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
        int i = names_find(&cl->names, c->buf);

        if (i >= 0) {
            cl->names.count[i]++;
        }
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
        /* The answer goes to c->buf (for its name); anything beyond it,
         * which a correct server never sends, to 'extra'. */
        char extra[REQ_SIZE];
        bool in_buf = c->got < REQ_SIZE;
        ssize_t r = read(c->fd, in_buf ? c->buf + c->got : extra,
                         in_buf ? (size_t) (REQ_SIZE - c->got) : sizeof extra);

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
    static struct client cl;
    double t0, t1, deadline;
    int i;

    if (conc < 1 || conc > MAX_CONC) {
        fprintf(stderr, "concurrency 1..%d\n", MAX_CONC);
        return 2;
    }
    for (i = 0; i < MAX_CONC; i++) {
        conns[i].fd = -1;
    }
    cl.n = n;
    cl.sport = sport;
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
           "\"seconds\": %.3f, \"per_second\": %.1f",
           cl.ok, cl.errors, cl.started - cl.ok - cl.errors, t1 - t0,
           cl.ok / (t1 - t0));
    if (cl.names.n) {
        printf(", \"names\": ");
        names_print(&cl.names, cl.names.count);
    }
    printf("}\n");
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

/* ----------------------------------------------------- held connections */

#define HOLD_CONNECTING 64      /* connections being opened at once */
#define HOLD_ANSWER_SECONDS 10  /* for the second answers */

enum held_state {
    HELD_CONNECTING,
    HELD_ASKED,                 /* first request sent */
    HELD_IDLE,                  /* first answer read */
    HELD_ASKED_AGAIN,           /* second request sent */
    HELD_DONE,                  /* second answer read */
    HELD_BROKEN,
};

struct held {
    int fd;
    enum held_state state;
    int got;
    int first, second;          /* index of the answering server's name */
    char buf[REQ_SIZE];
};

struct hold {
    struct held *conns;
    long n;
    int ep;
    struct names names;
};

static void
held_break(struct hold *h, struct held *c)
{
    if (c->fd >= 0) {
        epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = HELD_BROKEN;
}

static bool
held_ask(struct hold *h, struct held *c, enum held_state next)
{
    char req[REQ_SIZE];
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

    memset(req, 'R', sizeof req);
    if (write(c->fd, req, sizeof req) != sizeof req) {
        held_break(h, c);
        return false;
    }
    c->got = 0;
    c->state = next;
    epoll_ctl(h->ep, c->state == HELD_ASKED ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
              c->fd, &ev);
    return true;
}

/* Reads an answer; once it is whole, returns its name's index (or -1 if
 * it has none) in *name and true. */
static bool
held_read(struct hold *h, struct held *c, int *name)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->got, REQ_SIZE - c->got);

        if (r > 0) {
            c->got += r;
            if (c->got == REQ_SIZE) {
                *name = names_find(&h->names, c->buf);
                return true;
            }
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            return false;
        }
        held_break(h, c);       /* EOF or reset before the answer */
        return false;
    }
}

static void
held_step(struct hold *h, struct held *c)
{
    int err = 0, name;
    socklen_t len = sizeof err;

    switch (c->state) {
    case HELD_CONNECTING:
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            held_break(h, c);
        } else {
            held_ask(h, c, HELD_ASKED);
        }
        break;
    case HELD_ASKED:
        if (held_read(h, c, &name)) {
            c->first = name;
            c->state = HELD_IDLE;
            /* Nothing to wait for until the second request. */
            epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
        }
        break;
    case HELD_ASKED_AGAIN:
        if (held_read(h, c, &name)) {
            c->second = name;
            c->state = HELD_DONE;
            epoll_ctl(h->ep, EPOLL_CTL_DEL, c->fd, NULL);
        }
        break;
    default:
        break;
    }
}

static bool
held_open(struct hold *h, struct held *c, const struct sockaddr_storage *sa,
          socklen_t salen, int sport)
{
    struct sockaddr_storage src;
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    int one = 1;

    c->first = c->second = -1;
    c->state = HELD_CONNECTING;
    c->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        die("socket");
    }
    memset(&src, 0, sizeof src);
    src.ss_family = sa->ss_family;
    if (src.ss_family == AF_INET) {
        ((struct sockaddr_in *) &src)->sin_port = htons(sport);
    } else {
        ((struct sockaddr_in6 *) &src)->sin6_port = htons(sport);
    }
    setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *) &src, salen)
        || (connect(c->fd, (const struct sockaddr *) sa, salen)
            && errno != EINPROGRESS)) {
        held_break(h, c);
        return false;
    }
    epoll_ctl(h->ep, EPOLL_CTL_ADD, c->fd, &ev);
    return true;
}

/* Runs epoll until no connection of 'h' is in 'state' or 'deadline'. */
static void
hold_wait(struct hold *h, enum held_state state, double deadline)
{
    for (;;) {
        struct epoll_event evs[256];
        long i, pending = 0;
        int k, m;

        for (i = 0; i < h->n; i++) {
            pending += h->conns[i].state == state;
        }
        if (!pending || now() >= deadline) {
            return;
        }
        m = epoll_wait(h->ep, evs, 256, 100);
        for (k = 0; k < m; k++) {
            held_step(h, evs[k].data.ptr);
        }
    }
}

/* Phase 1: opens 'n' connections from source ports sport, sport+1..., a
 * request and its answer on each, then prints
 *   {"phase": 1, "open": K, "failed": F, "seconds": S, "names": {NAME: K_NAME}}
 * Phase 2, once 'gofile' exists: one more request on each open
 * connection, then prints, per server that answered the first request,
 *   {"phase": 2, "answered": A, "broken": B,
 *    "same": {NAME: ...}, "other": {NAME: ...}, "broken_by": {NAME: ...}}
 * (same: answered again by that server; other: by another one; broken:
 * reset, closed or no answer within HOLD_ANSWER_SECONDS).  Both phases
 * end after 'secs' seconds in all. */
static int
run_hold(const char *host, const char *port, long n, int sport,
         const char *gofile, double secs)
{
    static struct hold h;
    struct sockaddr_storage sa;
    socklen_t salen;
    double t0 = now(), deadline = t0 + secs;
    long i, next = 0, opened = 0, answered = 0;
    long *same, *other, *broken;
    struct stat st;

    if (n < 1 || sport < 1 || sport + n > 65536) {
        fprintf(stderr, "hold: N >= 1 and SPORT + N <= 65536\n");
        return 2;
    }
    raise_nofile();
    sa = resolve(host, port, &salen);
    h.n = n;
    h.conns = calloc(n, sizeof *h.conns);
    h.ep = epoll_create1(0);
    same = calloc(MAX_NAMES, sizeof *same);
    other = calloc(MAX_NAMES, sizeof *other);
    broken = calloc(MAX_NAMES, sizeof *broken);
    if (!h.conns || h.ep < 0 || !same || !other || !broken) {
        die("hold");
    }
    for (i = 0; i < n; i++) {
        h.conns[i].fd = -1;
        h.conns[i].state = HELD_BROKEN;
    }

    /* Phase 1, at most HOLD_CONNECTING connections being opened at once:
     * a burst of SYNs bigger than the switch's upcall queue would only
     * measure SYN retransmission. */
    while (next < n && now() < deadline) {
        long busy = 0;

        for (i = 0; i < next; i++) {
            busy += h.conns[i].state == HELD_CONNECTING
                    || h.conns[i].state == HELD_ASKED;
        }
        while (busy < HOLD_CONNECTING && next < n) {
            busy += held_open(&h, &h.conns[next], &sa, salen, sport + next);
            next++;
        }
        struct epoll_event evs[256];
        int k, m = epoll_wait(h.ep, evs, 256, 100);

        for (k = 0; k < m; k++) {
            held_step(&h, evs[k].data.ptr);
        }
    }
    hold_wait(&h, HELD_CONNECTING, deadline);
    hold_wait(&h, HELD_ASKED, deadline);
    memset(h.names.count, 0, sizeof h.names.count);
    for (i = 0; i < n; i++) {
        struct held *c = &h.conns[i];

        if (c->state != HELD_IDLE) {
            held_break(&h, c);
        } else if (c->first >= 0) {
            opened++;
            h.names.count[c->first]++;
        } else {
            opened++;
        }
    }
    printf("{\"phase\": 1, \"open\": %ld, \"failed\": %ld, \"seconds\": %.3f, "
           "\"names\": ", opened, n - opened, now() - t0);
    names_print(&h.names, h.names.count);
    printf("}\n");
    fflush(stdout);

    /* Phase 2. */
    while (stat(gofile, &st) && now() < deadline) {
        usleep(20000);
    }
    for (i = 0; i < n; i++) {
        if (h.conns[i].state == HELD_IDLE) {
            held_ask(&h, &h.conns[i], HELD_ASKED_AGAIN);
        } else {
            h.conns[i].first = -2;      /* not open in phase 1 */
        }
    }
    hold_wait(&h, HELD_ASKED_AGAIN, MIN(deadline, now() + HOLD_ANSWER_SECONDS));
    for (i = 0; i < n; i++) {
        struct held *c = &h.conns[i];

        if (c->first == -2) {
            continue;
        }
        if (c->state == HELD_DONE) {
            answered++;
            if (c->first >= 0) {
                (c->second == c->first ? same : other)[c->first]++;
            }
        } else if (c->first >= 0) {
            broken[c->first]++;
        }
        held_break(&h, c);
    }
    printf("{\"phase\": 2, \"answered\": %ld, \"broken\": %ld, \"same\": ",
           answered, opened - answered);
    names_print(&h.names, same);
    printf(", \"other\": ");
    names_print(&h.names, other);
    printf(", \"broken_by\": ");
    names_print(&h.names, broken);
    printf(", \"seconds\": %.3f}\n", now() - t0);
    return opened > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    /* A write to a connection the peer reset is an error to count, not
     * a reason to die. */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 5 && !strcmp(argv[1], "serve") && !strcmp(argv[2], "-n")) {
        server_name = argv[3];
        raise_nofile();
        return serve(argc - 4, argv + 4);
    }
    if (argc >= 3 && !strcmp(argv[1], "serve")) {
        raise_nofile();
        return serve(argc - 2, argv + 2);
    }
    if ((argc == 7 || argc == 8) && !strcmp(argv[1], "conn")) {
        return run_conn(argv[2], argv[3], atol(argv[4]), atoi(argv[5]),
                        atof(argv[6]), argc == 8 ? atoi(argv[7]) : 0);
    }
    if (argc == 6 && !strcmp(argv[1], "rr")) {
        return run_rr(argv[2], argv[3], atol(argv[4]), atof(argv[5]));
    }
    if (argc == 8 && !strcmp(argv[1], "hold")) {
        return run_hold(argv[2], argv[3], atol(argv[4]), atoi(argv[5]),
                        argv[6], atof(argv[7]));
    }
    fprintf(stderr, "usage: tcpbench serve [-n NAME] PORT... | "
            "conn HOST PORT N CONC SECONDS [SPORT] | rr HOST PORT N SECONDS | "
            "hold HOST PORT N SPORT GOFILE SECONDS\n");
    return 2;
}
