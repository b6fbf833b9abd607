/* One HTTP exchange with mslbd's REST API, for mslbctl.
 *
 * A thin layer over libcurl: it knows the base URL, the bearer token and
 * the time limit, and returns whatever status and body the server sent.
 * What a status means is the caller's business (docs/cli.md). */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H 1

#include <stddef.h>

#ifndef MSLB_WARN_UNUSED
#define MSLB_WARN_UNUSED __attribute__((warn_unused_result))
#endif

struct cli_http_conf {
    const char *base_url;       /* "http://host:port[/prefix]", no '/' at
                                 * the end. */
    const char *token;          /* Bearer token, or NULL. */
    long timeout_ms;            /* Whole exchange, connecting included. */
};

struct cli_http_reply {
    long status;                /* HTTP status code. */
    char *body;                 /* NUL-terminated; owned by the reply. */
    size_t len;                 /* Bytes in 'body', without the NUL. */
};

/* Call once before any request, and cli_http_global_uninit() at exit. */
int cli_http_global_init(void);
void cli_http_global_uninit(void);

/* Sends 'method' to base_url + 'path' ('path' starts with '/', its
 * segments already escaped, query included), with 'body' as JSON when
 * not NULL.
 *
 * Returns NULL when the server answered, whatever the status, and fills
 * 'reply', which the caller then uninits.  Otherwise (no connection, time
 * out, bad URL) returns a malloc'd message for the caller to free, and
 * 'reply' holds nothing to free. */
char *cli_http_request(const struct cli_http_conf *, const char *method,
                       const char *path, const char *body,
                       struct cli_http_reply *reply) MSLB_WARN_UNUSED;
void cli_http_reply_uninit(struct cli_http_reply *);

/* Returns 's' percent-encoded for use as one path segment, malloc'd. */
char *cli_http_escape(const char *s);

#endif /* cli_http.h */
