/* The door of the REST API: accepts connections itself, holds each until
 * its request head is complete and well formed, then hands the socket to
 * libmicrohttpd.  It enforces the connection limits (per client address
 * and in all) and a deadline for the whole head, and answers everything it
 * refuses with the API's JSON error body: libmicrohttpd would answer
 * malformed HTTP with HTML pages of its own. */
#ifndef MSLB_REST_GATE_H
#define MSLB_REST_GATE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>
#include "mslb/model.h"

struct rest_gate;

struct rest_gate_options {
    size_t max_body;            /* Larger Content-Length: 413. */
    unsigned int per_ip_limit;  /* Open connections per client address. */
    unsigned int limit;         /* Open connections in all. */
    unsigned int head_timeout_ms;   /* For the whole request head. */
    bool inspect;               /* Check heads (not possible under TLS). */
};

/* Takes over 'fd', an accepted connection from 'addr'. */
typedef void rest_gate_handoff_func(void *aux, int fd,
                                    const struct sockaddr *addr,
                                    socklen_t addrlen);

char *rest_gate_create(uv_loop_t *, const struct sockaddr *, socklen_t,
                       const struct rest_gate_options *,
                       rest_gate_handoff_func *, void *aux,
                       struct rest_gate **) MSLB_WARN_UNUSED;
void rest_gate_destroy(struct rest_gate *);

/* A handed-off connection from 'addr' opened or closed: counts against
 * the limits until it closes. */
void rest_gate_hold(struct rest_gate *, const struct sockaddr *);
void rest_gate_release(struct rest_gate *, const struct sockaddr *);

/* Whether a Content-Type header value is the media type application/json
 * (any case, optional parameters; a charset must be utf-8). */
bool rest_gate_is_json_type(const char *);

/* The JSON error body of the API, malloc'd ('path' may be NULL). */
char *rest_gate_error_body(const char *code, const char *message,
                           const char *path);

#endif /* rest_gate.h */
