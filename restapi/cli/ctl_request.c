/* mslbctl's requests to mslbd: one exchange, its failure reported as an
 * exit code, and the one-line summary of a write. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/xalloc.h"
#include "mslbctl.h"

/* mslbd's messages about a field start with its path, in the body's terms
 * ("backends[1].weight: must be...") or the whole model's
 * ("services[0].backends[1].weight: ..."): then "(path)" would only say it
 * again. */
static bool
message_names_path(const char *message, const char *path)
{
    const char *colon = strstr(message, ": ");
    size_t n = strlen(path), head;

    if (!colon || !n) {
        return false;
    }
    head = colon - message;
    return head >= n && !memcmp(colon - n, path, n)
           && (head == n || colon[-(ptrdiff_t) n - 1] == '.');
}

/* Reports a failed exchange and returns its exit code. */
static int
report_http_error(const struct ctl *ctl, const char *method, const char *path,
                  const struct cli_http_reply *reply)
{
    long status = reply->status;
    json_t *body = json_loadb(reply->body, reply->len, 0, NULL);
    json_t *error = json_object_get(body, "error");
    json_t *message = json_object_get(error, "message");
    json_t *where = json_object_get(error, "path");
    int code;

    if (json_is_string(message)) {
        if (json_is_string(where)
            && !message_names_path(json_string_value(message),
                                   json_string_value(where))) {
            fprintf(stderr, "mslbctl: %s (%s)\n", json_string_value(message),
                    json_string_value(where));
        } else {
            fprintf(stderr, "mslbctl: %s\n", json_string_value(message));
        }
        if (ctl->json) {
            ctl_print_json(body);
        }
    } else {
        fprintf(stderr, "mslbctl: %s %s%s: HTTP %ld\n",
                method, ctl->http.base_url, path, status);
    }
    json_decref(body);

    code = (status == 401 ? CTL_EXIT_UNAUTHORIZED
            : status == 404 ? CTL_EXIT_NOT_FOUND
            : status >= 400 && status < 500 ? CTL_EXIT_REFUSED
            : CTL_EXIT_UNREACHABLE);
    return code;
}

int
ctl_call(const struct ctl *ctl, const char *method, const char *path,
         const json_t *body, json_t **answer, long *status)
{
    bool write = strcmp(method, "GET");
    struct cli_http_reply reply;
    char *full_path, *text = NULL, *error;
    json_error_t jerr;
    int code = CTL_EXIT_OK;

    *answer = NULL;
    full_path = (write && ctl->wait
                 ? mslb_xasprintf("%s?wait=%s", path, ctl->wait)
                 : mslb_xasprintf("%s", path));
    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    error = cli_http_request(&ctl->http, method, full_path, text, &reply);
    free(text);
    if (error) {
        fprintf(stderr, "mslbctl: %s\n", error);
        free(error);
        free(full_path);
        return CTL_EXIT_UNREACHABLE;
    }

    if (reply.status < 200 || reply.status > 299) {
        code = report_http_error(ctl, method, full_path, &reply);
    } else {
        *answer = json_loadb(reply.body, reply.len, 0, &jerr);
        if (!json_is_object(*answer)) {
            /* Something answers there, but not mslbd's API. */
            fprintf(stderr, "mslbctl: %s %s%s: answer is not a JSON "
                    "object%s%s\n", method, ctl->http.base_url, full_path,
                    *answer ? "" : ": ", *answer ? "" : jerr.text);
            json_decref(*answer);
            *answer = NULL;
            code = CTL_EXIT_UNREACHABLE;
        } else if (status) {
            *status = reply.status;
        }
    }
    cli_http_reply_uninit(&reply);
    free(full_path);
    return code;
}

void
ctl_print_write_result(const struct ctl *ctl, const json_t *answer,
                       const char *what)
{
    const json_t *generation = json_object_get(answer, "generation");
    bool installed = json_is_true(json_object_get(answer, "installed"));

    if (ctl->json) {
        ctl_print_json(answer);
    } else if (json_is_integer(generation)) {
        printf("%s (generation %" JSON_INTEGER_FORMAT ", %s)\n", what,
               json_integer_value(generation),
               installed ? "installed" : "not yet installed");
    } else {
        printf("%s (%s)\n", what,
               installed ? "installed" : "not yet installed");
    }
}

int
ctl_get(const struct ctl *ctl, const char *path, json_t **answer)
{
    int code = ctl_call(ctl, "GET", path, NULL, answer, NULL);

    if (!code && ctl->json) {
        ctl_print_json(*answer);
        json_decref(*answer);
        *answer = NULL;
    }
    return code;
}

int
ctl_write(const struct ctl *ctl, const char *method, const char *path,
          const json_t *body, const char *fmt, ...)
{
    json_t *answer;
    int code = ctl_call(ctl, method, path, body, &answer, NULL);

    if (!code) {
        va_list args;
        char *what;

        va_start(args, fmt);
        if (vasprintf(&what, fmt, args) < 0) {
            fputs("out of memory\n", stderr);
            abort();
        }
        va_end(args);
        ctl_print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    return code;
}

char *
ctl_service_path(const char *service, const char *rest)
{
    char *name = cli_http_escape(service);
    char *path = mslb_xasprintf("/v1/services/%s%s", name, rest);
    free(name);
    return path;
}

char *
ctl_backend_path(const char *service, const char *backend)
{
    char *name = cli_http_escape(backend);
    char *rest = mslb_xasprintf("/backends/%s", name);
    char *path = ctl_service_path(service, rest);
    free(rest);
    free(name);
    return path;
}

int
ctl_put_file(const struct ctl *ctl, const char *kind,
             char *(*path_of)(const char *name))
{
    json_t *object, *answer;
    const json_t *name;
    long status = 0;
    char *path, *what;
    int code;

    code = ctl_read_json_file(ctl->file, &object);
    if (code) {
        return code;
    }
    name = json_object_get(object, "name");
    if (!json_is_string(name) || !json_string_length(name)) {
        json_decref(object);
        return ctl_usage_error("%s: the %s has no \"name\"", ctl->file,
                               kind);
    }
    path = path_of(json_string_value(name));
    code = ctl_call(ctl, "PUT", path, object, &answer, &status);
    free(path);
    if (!code) {
        what = mslb_xasprintf("%s %s %s", kind, json_string_value(name),
                              status == 201 ? "created" : "replaced");
        ctl_print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    json_decref(object);
    return code;
}
