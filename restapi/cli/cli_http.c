#include "cli_http.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "mslb/xalloc.h"

int
cli_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
cli_http_global_uninit(void)
{
    curl_global_cleanup();
}

static size_t
append_body(char *data, size_t size, size_t n, void *reply_)
{
    struct cli_http_reply *reply = reply_;
    size_t add = size * n;

    reply->body = mslb_xrealloc(reply->body, reply->len + add + 1);
    memcpy(reply->body + reply->len, data, add);
    reply->len += add;
    reply->body[reply->len] = '\0';
    return add;
}

static struct curl_slist *
append_header(struct curl_slist *list, const char *header)
{
    struct curl_slist *l = curl_slist_append(list, header);
    if (!l) {
        fputs("mslbctl: out of memory\n", stderr);
        abort();
    }
    return l;
}

char *
cli_http_request(const struct cli_http_conf *conf, const char *method,
                 const char *path, const char *body,
                 struct cli_http_reply *reply)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    char *url, *auth = NULL, *error = NULL;
    CURLcode rc;
    CURL *curl;

    memset(reply, 0, sizeof *reply);
    url = mslb_xasprintf("%s%s", conf->base_url, path);
    curl = curl_easy_init();
    if (!curl) {
        error = mslb_xasprintf("%s %s: cannot initialize libcurl", method, url);
        free(url);
        return error;
    }

    headers = append_header(headers, "Accept: application/json");
    /* libcurl would otherwise hold large bodies back for a "100 Continue"
     * that small servers never send. */
    headers = append_header(headers, "Expect:");
    if (body) {
        headers = append_header(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) strlen(body));
    }
    if (conf->token) {
        auth = mslb_xasprintf("Authorization: Bearer %s", conf->token);
        headers = append_header(headers, auth);
    }

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (!body && !strcmp(method, "GET")) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mslbctl");
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* Names are the server's to interpret: no "/./" or "/../" folding. */
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    /* Signals would interrupt the caller; time limits work without them
     * when libcurl resolves names in a thread or not at all. */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, conf->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, conf->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);

    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        error = mslb_xasprintf("%s %s: %s", method, url,
                          errbuf[0] ? errbuf : curl_easy_strerror(rc));
        free(reply->body);
        memset(reply, 0, sizeof *reply);
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
        if (!reply->body) {
            reply->body = mslb_xrealloc(NULL, 1);
            reply->body[0] = '\0';
        }
    }

    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    free(auth);
    free(url);
    return error;
}

void
cli_http_reply_uninit(struct cli_http_reply *reply)
{
    if (reply) {
        free(reply->body);
        reply->body = NULL;
        reply->len = 0;
    }
}

char *
cli_http_escape(const char *s)
{
    static const char unreserved[] = "-._~";
    size_t n = strlen(s);
    char *out = mslb_xrealloc(NULL, 3 * n + 1), *p = out;
    /* "." and ".." are legal names but mean something else in a path. */
    bool dots = n && strspn(s, ".") == n;

    for (; *s; s++) {
        unsigned char c = *s;
        if (!dots && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                      || (c >= '0' && c <= '9')
                      || (c && strchr(unreserved, c)))) {
            *p++ = c;
        } else {
            p += sprintf(p, "%%%02X", c);
        }
    }
    *p = '\0';
    return out;
}
