/* The door of the REST API; see rest_gate.h and docs/api.md.
 *
 * A connection waits here until its request head (request line and
 * headers) is complete.  The head is only peeked at (MSG_PEEK), never
 * read, so libmicrohttpd later reads the same bytes; the sockets are in
 * an edge-triggered epoll set of our own, since peeked data stays
 * readable.  Every connection then carries one request (rest.c answers
 * with "Connection: close"), so libmicrohttpd never parses a head that
 * was not checked here.  What is refused gets a JSON error and a short
 * linger, reading what the client still sends, so that closing does not
 * reset the connection before the client has read the answer. */
#include <config.h>
#include "rest_gate.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "util.h"

#define HEAD_MAX 8192           /* Request line and headers. */
#define LINE_MAX_ 2048          /* Request line. */
#define LINGER_MS 2000
#define LINGER_MAX 256          /* Refused connections lingering at once. */
#define SWEEP_MS 200

/* Connections counted per client address. */
struct gate_ip {
    struct hmap_node node;
    uint8_t key[17];            /* Family, then the address. */
    unsigned int n;
};

struct gate_conn {
    struct ovs_list node;       /* In gate->pending or gate->lingering. */
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct gate_ip *ip;         /* NULL once no longer counted. */
    uint64_t deadline_ms;
    bool lingering;
};

struct rest_gate {
    uv_loop_t *loop;
    int listen_fd;
    int epfd;
    uv_poll_t poll;
    uv_timer_t timer;
    struct rest_gate_options o;
    rest_gate_handoff_func *handoff;
    void *aux;
    struct hmap ips;
    unsigned int n_open;        /* Pending here plus handed off. */
    struct ovs_list pending;
    struct ovs_list lingering;
    size_t n_lingering;
};

static uint64_t
now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- Counting per address. ---- */

static size_t
ip_key(const struct sockaddr *sa, uint8_t key[17])
{
    memset(key, 0, 17);
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *) sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            key[0] = AF_INET;
            memcpy(key + 1, &s6->sin6_addr.s6_addr[12], 4);
        } else {
            key[0] = AF_INET6;
            memcpy(key + 1, &s6->sin6_addr, 16);
        }
    } else if (sa->sa_family == AF_INET) {
        key[0] = AF_INET;
        memcpy(key + 1, &((const struct sockaddr_in *) sa)->sin_addr, 4);
    }
    return 17;
}

static struct gate_ip *
ip_get(struct rest_gate *g, const struct sockaddr *sa, bool create)
{
    uint8_t key[17];
    uint32_t hash = hash_bytes(key, ip_key(sa, key), 0);
    struct gate_ip *ip;

    HMAP_FOR_EACH_WITH_HASH (ip, node, hash, &g->ips) {
        if (!memcmp(ip->key, key, sizeof key)) {
            return ip;
        }
    }
    if (!create) {
        return NULL;
    }
    ip = xzalloc(sizeof *ip);
    memcpy(ip->key, key, sizeof key);
    hmap_insert(&g->ips, &ip->node, hash);
    return ip;
}

static void
ip_put(struct rest_gate *g, struct gate_ip *ip)
{
    g->n_open--;
    if (!--ip->n) {
        hmap_remove(&g->ips, &ip->node);
        free(ip);
    }
}

void
rest_gate_hold(struct rest_gate *g, const struct sockaddr *sa)
{
    ip_get(g, sa, true)->n++;
    g->n_open++;
}

void
rest_gate_release(struct rest_gate *g, const struct sockaddr *sa)
{
    struct gate_ip *ip = ip_get(g, sa, false);

    if (ip) {
        ip_put(g, ip);
    }
}

/* ---- Answers. ---- */

char *
rest_gate_error_body(const char *code, const char *message,
                     const char *path)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:s?}}", "error", "code", code,
                          "message", message, "path", path);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *body = xasprintf("%s\n", s);

    free(s);
    json_decref(j);
    return body;
}

static void
conn_close(struct rest_gate *g, struct gate_conn *c)
{
    ovs_list_remove(&c->node);
    if (c->lingering) {
        g->n_lingering--;
    }
    if (c->ip) {
        ip_put(g, c->ip);
    }
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Reads and drops what the client sends; closes at its end. */
static void
conn_drain(struct rest_gate *g, struct gate_conn *c)
{
    char buf[4096];

    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else if (n <= 0) {
            break;
        }
    }
    conn_close(g, c);
}

/* Answers 'status' with an error body, then lingers. */
static void
conn_refuse(struct rest_gate *g, struct gate_conn *c, int status,
            const char *reason, const char *code, const char *message)
{
    char *body = rest_gate_error_body(code, message, NULL);
    char *resp = xasprintf("HTTP/1.1 %d %s\r\n"
                           "Content-Type: application/json\r\n"
                           "Cache-Control: no-store\r\n"
                           "Connection: close\r\n"
                           "Content-Length: %zu\r\n\r\n%s",
                           status, reason, strlen(body), body);
    ssize_t n;

    /* A fresh socket's send buffer holds this small answer whole. */
    n = send(c->fd, resp, strlen(resp), MSG_DONTWAIT | MSG_NOSIGNAL);
    free(resp);
    free(body);
    if (c->ip) {
        ip_put(g, c->ip);
        c->ip = NULL;
    }
    if (n < 0 || g->n_lingering >= LINGER_MAX) {
        conn_close(g, c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    ovs_list_remove(&c->node);
    ovs_list_push_back(&g->lingering, &c->node);
    c->lingering = true;
    c->deadline_ms = now_ms() + LINGER_MS;
    g->n_lingering++;
    conn_drain(g, c);
}

/* ---- Request heads. ---- */

static bool
is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~",
                                                        ch));
}

static size_t
token_len(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && is_tchar(s[i])) {
        i++;
    }
    return i;
}

/* Whether 'name' (length 'n') is header 'h', in any case. */
static bool
header_is(const char *name, size_t n, const char *h)
{
    return n == strlen(h) && !strncasecmp(name, h, n);
}

struct head_error {
    int status;
    const char *reason, *code, *message;
};

#define HEAD_ERROR(S, R, C, M) \
    ((struct head_error) { (S), (R), (C), (M) })
#define BAD(M) HEAD_ERROR(400, "Bad Request", "bad_request", (M))

/* Checks the request line 'l' (length 'n', no CRLF). */
static struct head_error
check_request_line(const char *l, size_t n, bool *http11)
{
    size_t m = token_len(l, n), t;
    const char *v;

    if (!m || m == n || l[m] != ' ') {
        return BAD("bad request line: expected METHOD /PATH HTTP/1.1");
    }
    l += m + 1;
    n -= m + 1;
    for (t = 0; t < n && l[t] > ' ' && l[t] < 0x7f; t++) {
        continue;
    }
    if (!t || t == n || l[t] != ' ') {
        return BAD("bad request line: expected METHOD /PATH HTTP/1.1");
    }
    if (l[0] != '/') {
        return BAD("bad request line: the target must be a path");
    }
    v = l + t + 1;
    n -= t + 1;
    if (n == 8 && !memcmp(v, "HTTP/1.", 7) && (v[7] == '0' || v[7] == '1')) {
        *http11 = v[7] == '1';
        return HEAD_ERROR(0, NULL, NULL, NULL);
    }
    if (n == 8 && !memcmp(v, "HTTP/", 5) && v[5] >= '0' && v[5] <= '9'
        && v[6] == '.' && v[7] >= '0' && v[7] <= '9') {
        return HEAD_ERROR(505, "HTTP Version Not Supported",
                          "http_version_not_supported",
                          "only HTTP/1.0 and HTTP/1.1 are served");
    }
    return BAD("bad request line: expected METHOD /PATH HTTP/1.1");
}

/* Checks one header line (no CRLF), counting the ones that matter. */
static struct head_error
check_header(const char *l, size_t n, size_t max_body, int *hosts,
             int *lengths)
{
    size_t m = token_len(l, n);
    const char *v = l + m + 1;
    size_t vn = n - m - 1;

    if (!m || m == n || l[m] != ':') {
        return BAD("bad header line: expected NAME: VALUE");
    }
    for (size_t i = 0; i < vn; i++) {
        unsigned char ch = v[i];
        if ((ch < ' ' && ch != '\t') || ch == 0x7f) {
            return BAD("bad header line: control character in a value");
        }
    }
    while (vn && (*v == ' ' || *v == '\t')) {
        v++;
        vn--;
    }
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) {
        vn--;
    }
    if (header_is(l, m, "Host")) {
        ++*hosts;
    } else if (header_is(l, m, "Transfer-Encoding")) {
        return HEAD_ERROR(411, "Length Required", "length_required",
                          "request bodies must have a Content-Length "
                          "(no Transfer-Encoding)");
    } else if (header_is(l, m, "Content-Length")) {
        size_t len = 0;

        if (++*lengths > 1 || !vn || vn > 18) {
            return BAD("bad Content-Length");
        }
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9') {
                return BAD("bad Content-Length");
            }
            len = len * 10 + (v[i] - '0');
        }
        if (len > max_body) {
            return HEAD_ERROR(413, "Content Too Large", "payload_too_large",
                              "request body larger than the limit");
        }
    }
    return HEAD_ERROR(0, NULL, NULL, NULL);
}

/* Checks the head in 'buf' ('n' bytes peeked).  Sets '*complete' if the
 * head is whole (then status 0 means it may go on). */
static struct head_error
check_head(const char *buf, size_t n, size_t max_body, bool *complete)
{
    const char *eol = memmem(buf, n, "\r\n", 2);
    bool http11 = false;
    int hosts = 0, lengths = 0;
    struct head_error e;
    size_t pos;

    *complete = false;
    if (!eol) {
        if (n > LINE_MAX_) {
            return HEAD_ERROR(414, "URI Too Long", "uri_too_long",
                              "request line longer than 2048 bytes");
        }
        if (memchr(buf, '\n', n) || memchr(buf, '\r', n ? n - 1 : 0)) {
            return BAD("bad line end: expected CRLF");
        }
        return HEAD_ERROR(0, NULL, NULL, NULL);
    }
    if (eol - buf > LINE_MAX_) {
        return HEAD_ERROR(414, "URI Too Long", "uri_too_long",
                          "request line longer than 2048 bytes");
    }
    if (memchr(buf, '\n', eol - buf) || memchr(buf, '\r', eol - buf)) {
        return BAD("bad line end: expected CRLF");
    }
    e = check_request_line(buf, eol - buf, &http11);
    if (e.status) {
        return e;
    }
    for (pos = eol - buf + 2; ; ) {
        const char *l = buf + pos;
        const char *end = memmem(l, n - pos, "\r\n", 2);
        size_t len = end ? (size_t) (end - l) : n - pos;

        if (memchr(l, '\n', len)
            || memchr(l, '\r', end ? len : len ? len - 1 : 0)) {
            return BAD("bad line end: expected CRLF");
        }
        if (!end) {
            if (n >= HEAD_MAX) {
                return HEAD_ERROR(431, "Request Header Fields Too Large",
                                  "headers_too_large",
                                  "request head longer than 8192 bytes");
            }
            return HEAD_ERROR(0, NULL, NULL, NULL);
        }
        if (!len) {
            pos += 2;
            break;
        }
        if (*l == ' ' || *l == '\t') {
            return BAD("bad header line: folded lines are not accepted");
        }
        e = check_header(l, len, max_body, &hosts, &lengths);
        if (e.status) {
            return e;
        }
        pos += len + 2;
    }
    if (pos > HEAD_MAX) {
        return HEAD_ERROR(431, "Request Header Fields Too Large",
                          "headers_too_large",
                          "request head longer than 8192 bytes");
    }
    if (hosts > 1 || (http11 && !hosts)) {
        return BAD("an HTTP/1.1 request needs one Host header");
    }
    *complete = true;
    return HEAD_ERROR(0, NULL, NULL, NULL);
}

static void
conn_handoff(struct rest_gate *g, struct gate_conn *c)
{
    int fd = c->fd;
    struct sockaddr_storage addr = c->addr;
    socklen_t addrlen = c->addrlen;

    ovs_list_remove(&c->node);
    ip_put(g, c->ip);
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, fd, NULL);
    free(c);
    g->handoff(g->aux, fd, (struct sockaddr *) &addr, addrlen);
}

static void
conn_inspect(struct rest_gate *g, struct gate_conn *c)
{
    char buf[HEAD_MAX + 1];
    ssize_t n = recv(c->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    struct head_error e;
    bool complete;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    } else if (n <= 0) {
        conn_close(g, c);
        return;
    }
    e = check_head(buf, n, g->o.max_body, &complete);
    if (e.status) {
        conn_refuse(g, c, e.status, e.reason, e.code, e.message);
    } else if (complete) {
        conn_handoff(g, c);
    }
}

/* ---- Accepting. ---- */

static void
accept_some(struct rest_gate *g)
{
    for (int i = 0; i < 64; i++) {
        struct gate_conn *c = xzalloc(sizeof *c);
        struct epoll_event ev;

        c->addrlen = sizeof c->addr;
        c->fd = accept4(g->listen_fd, (struct sockaddr *) &c->addr,
                        &c->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c->fd < 0) {
            free(c);
            return;
        }
        ovs_list_push_back(&g->pending, &c->node);
        c->deadline_ms = now_ms() + g->o.head_timeout_ms;
        ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        ev.data.ptr = c;
        if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
            conn_close(g, c);
            continue;
        }

        struct gate_ip *ip = ip_get(g, (struct sockaddr *) &c->addr, true);
        if (ip->n >= g->o.per_ip_limit || g->n_open >= g->o.limit) {
            const char *msg = (ip->n >= g->o.per_ip_limit
                               ? "too many connections from this address; "
                                 "retry later"
                               : "too many connections; retry later");
            if (!ip->n) {
                hmap_remove(&g->ips, &ip->node);
                free(ip);
            }
            conn_refuse(g, c, 503, "Service Unavailable", "unavailable", msg);
            continue;
        }
        ip->n++;
        g->n_open++;
        c->ip = ip;
        if (!g->o.inspect) {
            conn_handoff(g, c);
        } else {
            conn_inspect(g, c);
        }
    }
}

static void
on_events(uv_poll_t *handle, int status, int events)
{
    struct rest_gate *g = handle->data;
    struct epoll_event ev[64];
    int n;

    do {
        n = epoll_wait(g->epfd, ev, ARRAY_SIZE(ev), 0);
        for (int i = 0; i < n; i++) {
            struct gate_conn *c = ev[i].data.ptr;
            if (!c) {
                accept_some(g);
            } else if (c->lingering) {
                conn_drain(g, c);
            } else {
                conn_inspect(g, c);
            }
        }
    } while (n == ARRAY_SIZE(ev));
}

/* Refuses heads that took too long; ends lingers. */
static void
on_sweep(uv_timer_t *timer)
{
    struct rest_gate *g = timer->data;
    struct gate_conn *c;
    uint64_t now = now_ms();

    LIST_FOR_EACH_SAFE (c, node, &g->lingering) {
        if (now >= c->deadline_ms) {
            conn_close(g, c);
        }
    }
    LIST_FOR_EACH_SAFE (c, node, &g->pending) {
        if (now >= c->deadline_ms) {
            conn_refuse(g, c, 408, "Request Timeout", "timeout",
                        "the request head did not arrive in time");
        }
    }
}

char *
rest_gate_create(uv_loop_t *loop, const struct sockaddr *sa,
                 socklen_t salen, const struct rest_gate_options *o,
                 rest_gate_handoff_func *handoff, void *aux,
                 struct rest_gate **gp)
{
    struct rest_gate *g;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    int one = 1;
    int fd;

    *gp = NULL;
    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return xasprintf("socket: %s", strerror(errno));
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, sa, salen) || listen(fd, 128)) {
        char *error = xasprintf("cannot listen: %s", strerror(errno));
        close(fd);
        return error;
    }

    g = xzalloc(sizeof *g);
    g->loop = loop;
    g->listen_fd = fd;
    g->o = *o;
    g->handoff = handoff;
    g->aux = aux;
    hmap_init(&g->ips);
    ovs_list_init(&g->pending);
    ovs_list_init(&g->lingering);
    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g->epfd < 0 || epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        char *error = xasprintf("epoll: %s", strerror(errno));
        if (g->epfd >= 0) {
            close(g->epfd);
        }
        close(fd);
        hmap_destroy(&g->ips);
        free(g);
        return error;
    }
    uv_poll_init(loop, &g->poll, g->epfd);
    g->poll.data = g;
    uv_poll_start(&g->poll, UV_READABLE, on_events);
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, on_sweep, SWEEP_MS, SWEEP_MS);
    *gp = g;
    return NULL;
}

void
rest_gate_destroy(struct rest_gate *g)
{
    struct gate_conn *c;

    if (!g) {
        return;
    }
    LIST_FOR_EACH_SAFE (c, node, &g->lingering) {
        conn_close(g, c);
    }
    LIST_FOR_EACH_SAFE (c, node, &g->pending) {
        conn_close(g, c);
    }
    uv_poll_stop(&g->poll);
    uv_timer_stop(&g->timer);
    close(g->listen_fd);
    /* The handles stay with the loop, which ends with the process. */
}

/* ---- Media types. ---- */

static const char *
skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

bool
rest_gate_is_json_type(const char *ct)
{
    static const char json[] = "application/json";
    size_t n;

    if (!ct) {
        return false;
    }
    ct = skip_ows(ct);
    n = token_len(ct, strlen(ct));
    if (ct[n] != '/' || n != 11 || strncasecmp(ct, json, 12)) {
        return false;
    }
    ct += 12;
    n = token_len(ct, strlen(ct));
    if (n != 4 || strncasecmp(ct, "json", 4)) {
        return false;
    }
    ct = skip_ows(ct + n);
    while (*ct) {
        const char *name, *value;
        size_t name_len, value_len;

        if (*ct != ';') {
            return false;
        }
        ct = skip_ows(ct + 1);
        name = ct;
        name_len = token_len(ct, strlen(ct));
        if (!name_len || name[name_len] != '=') {
            return false;
        }
        value = ct = name + name_len + 1;
        if (*ct == '"') {
            value = ++ct;
            while (*ct && *ct != '"' && *ct != '\\') {
                ct++;
            }
            if (*ct != '"') {
                return false;   /* Unterminated, or an escape: refuse. */
            }
            value_len = ct++ - value;
        } else {
            value_len = token_len(ct, strlen(ct));
            if (!value_len) {
                return false;
            }
            ct += value_len;
        }
        if (header_is(name, name_len, "charset")
            && !header_is(value, value_len, "utf-8")) {
            return false;
        }
        ct = skip_ows(ct);
    }
    return true;
}
