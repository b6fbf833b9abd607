/* mslbctl: the operator's command-line client for mslbd's REST API.
 *
 * Each command is one or two requests; the answer is shown as a table, a
 * one-line summary of a write, or (--json) the server's JSON.  The exit
 * code says what kind of failure happened so that scripts can branch on
 * it (docs/cli.md).
 *
 * mslbctl checks only the form of its arguments (numbers are numbers,
 * required options are there, files are JSON): values are the server's to
 * judge, so that there is one set of rules and one wording of each error,
 * with the path of the offending field. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/xalloc.h"
#include <strings.h>
#include <jansson.h>
#include "cli_http.h"
#include "cli_table.h"

/* Exit codes: part of the interface, see usage() and docs/cli.md. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_REFUSED = 1,       /* 4xx other than 401 and 404. */
    CTL_EXIT_USAGE = 2,         /* Found before any request is sent. */
    CTL_EXIT_UNREACHABLE = 3,   /* No answer, time out, 5xx, not the API. */
    CTL_EXIT_NOT_FOUND = 4,     /* 404. */
    CTL_EXIT_UNAUTHORIZED = 5,  /* 401. */
};

#define CTL_DEFAULT_URL "http://127.0.0.1:8080"
#define CTL_DEFAULT_TIMEOUT_MS 30000
/* Time the server needs beyond ?wait= to answer, for the default limit. */
#define CTL_WAIT_SLACK_MS 10000

/* Command options, as bits so that each command says which it takes. */
enum {
    OPT_FILE = 1 << 0,
    OPT_VIP = 1 << 1,
    OPT_PROTOCOL = 1 << 2,
    OPT_PORT = 1 << 3,
    OPT_MODE = 1 << 4,
    OPT_BRIDGE = 1 << 5,
    OPT_BACKEND = 1 << 6,
    OPT_NAME = 1 << 7,
    OPT_IP = 1 << 8,
    OPT_MAC = 1 << 9,
    OPT_WEIGHT = 1 << 10,
    OPT_STATE = 1 << 11,
    /* Global options, accepted before or after the command. */
    OPT_URL = 1 << 16,
    OPT_TOKEN = 1 << 17,
    OPT_JSON = 1 << 18,
    OPT_WAIT = 1 << 19,
    OPT_TIMEOUT = 1 << 20,
    OPT_HELP = 1 << 21,
};
#define OPT_GLOBALS (OPT_URL | OPT_TOKEN | OPT_JSON | OPT_WAIT | OPT_TIMEOUT \
                     | OPT_HELP)

static const struct option long_options[] = {
    { "file", required_argument, NULL, OPT_FILE },
    { "vip", required_argument, NULL, OPT_VIP },
    { "protocol", required_argument, NULL, OPT_PROTOCOL },
    { "port", required_argument, NULL, OPT_PORT },
    { "mode", required_argument, NULL, OPT_MODE },
    { "bridge", required_argument, NULL, OPT_BRIDGE },
    { "backend", required_argument, NULL, OPT_BACKEND },
    { "name", required_argument, NULL, OPT_NAME },
    { "ip", required_argument, NULL, OPT_IP },
    { "mac", required_argument, NULL, OPT_MAC },
    { "weight", required_argument, NULL, OPT_WEIGHT },
    { "state", required_argument, NULL, OPT_STATE },
    { "url", required_argument, NULL, OPT_URL },
    { "token", required_argument, NULL, OPT_TOKEN },
    { "json", no_argument, NULL, OPT_JSON },
    { "wait", required_argument, NULL, OPT_WAIT },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

struct ctl {
    /* Global options. */
    struct cli_http_conf http;
    bool json;
    const char *wait;           /* Digits, or NULL for the server's default. */

    /* Command options: the last one given wins, except the lists. */
    unsigned int seen;          /* OPT_* bits given. */
    const char *file, *vip, *protocol, *port, *mode;
    const char *name, *ip, *mac, *weight, *state;
    const char **bridges, **backends;
    size_t n_bridges, n_backends;

    /* Positional arguments, the command's words first. */
    char **args;
    size_t n_args;
};

struct ctl_command {
    const char *name;           /* One or two words. */
    const char *synopsis;       /* What follows the name. */
    size_t min_args, max_args;  /* After the name. */
    unsigned int options;       /* OPT_* bits it accepts besides globals. */
    int (*run)(struct ctl *, char **args, size_t n_args);
};

static const struct ctl_command *ctl_command;

static void
usage(FILE *stream)
{
    fputs(
"usage: mslbctl [OPTIONS] COMMAND [ARGS]\n"
"The command-line client of mslbd's REST API (docs/cli.md).\n"
"\n"
"Commands:\n"
"  list                              services: NAME VIP PROTO PORT MODE BACKENDS\n"
"  show NAME                         one service and its backends\n"
"  create --file FILE                create a service from JSON ('-': stdin)\n"
"  create NAME --vip IP --protocol tcp|udp --port N --bridge BR [--bridge BR]\n"
"         [--mode nat] [--backend name=N,ip=IP,mac=MAC[,port=P][,weight=W]\n"
"         [,state=S]]...\n"
"  replace --file FILE               replace (or create) the service named\n"
"                                    in FILE\n"
"  delete NAME                       delete a service\n"
"  backend add SVC --name N --ip IP --mac MAC [--port P] [--weight W]\n"
"              [--state up|drain|down]\n"
"  backend remove SVC NAME           remove a backend\n"
"  backend drain SVC NAME            keep its sessions, send it no new ones\n"
"  backend up SVC NAME               send it new sessions again\n"
"  backend down SVC NAME             send it nothing\n"
"  backend weight SVC NAME W         set its share of new sessions\n"
"  status                            daemon health and bridges\n"
"  stats [SVC]                       packets, bytes and sessions\n"
"\n"
"Options (before or after the command):\n"
"  --url URL          mslbd's API (default: $MSLB_URL, else\n"
"                     " CTL_DEFAULT_URL ")\n"
"  --token TOKEN      bearer token (default: $MSLB_TOKEN)\n"
"  --json             print the server's JSON, indented\n"
"  --wait SECONDS     how long a write waits for the switches (server default 5)\n"
"  --timeout SECONDS  give up on the server after this long (default 30,\n"
"                     or --wait plus 10 if longer)\n"
"  -h, --help         print this help\n"
"\n"
"Exit codes:\n"
"  0  success\n"
"  1  the server refused the request (4xx other than 401 and 404)\n"
"  2  usage error: bad arguments or unreadable file; nothing was sent\n"
"  3  the server cannot be reached, timed out, or failed (5xx)\n"
"  4  not found (404)\n"
"  5  unauthorized (401): missing or wrong token\n",
        stream);
}

/* Reports a usage error; returns CTL_EXIT_USAGE for the caller to return. */
static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
    va_list args;

    fputs("mslbctl: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    if (ctl_command) {
        fprintf(stderr, "usage: mslbctl %s%s%s\n", ctl_command->name,
                *ctl_command->synopsis ? " " : "", ctl_command->synopsis);
    } else {
        fputs("Try 'mslbctl --help'.\n", stderr);
    }
    return CTL_EXIT_USAGE;
}

/* Parses all of 's' as a decimal integer. */
static bool
parse_integer(const char *s, long long *value)
{
    char *end;

    if (!*s || isspace((unsigned char) *s)) {
        return false;
    }
    errno = 0;
    *value = strtoll(s, &end, 10);
    return !*end && !errno;
}

static bool
is_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

static bool
has_control_chars(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return true;
        }
    }
    return false;
}

/* Prints 'json' indented, as the server sent it (key order kept). */
static void
print_json(const json_t *json)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER
                               | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
}

/* Returns 'v' as a table cell, malloc'd: "-" for absent or null. */
static char *
value_text(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return mslb_xasprintf("%s", json_string_value(v));
    case JSON_INTEGER:
        return mslb_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return mslb_xasprintf("%g", json_real_value(v));
    case JSON_TRUE:
        return mslb_xasprintf("yes");
    case JSON_FALSE:
        return mslb_xasprintf("no");
    case JSON_ARRAY: {
        /* Lists of names (a service's bridges) read best joined. */
        size_t len = 1, i;
        json_t *e;
        char *s;

        json_array_foreach (v, i, e) {
            char *t = value_text(e);
            len += strlen(t) + 2;
            free(t);
        }
        s = mslb_xmalloc(len);
        s[0] = '\0';
        json_array_foreach (v, i, e) {
            char *t = value_text(e);
            if (i) {
                strcat(s, ", ");
            }
            strcat(s, t);
            free(t);
        }
        return s;
    }
    case JSON_OBJECT: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        return s ? s : mslb_xasprintf("?");
    }
    case JSON_NULL:
    default:
        return mslb_xasprintf("-");
    }
}

/* An empty cell would shift the columns of a script that splits on
 * blanks: it shows as "-", as absent values do. */
static void
table_add_value(struct cli_table *t, const json_t *v)
{
    char *s = value_text(v);
    cli_table_add(t, "%s", *s ? s : "-");
    free(s);
}

/* The server fills defaults in what it returns, but the config rules
 * (docs/config.md) say what an absent field means, so show that. */
static bool
backend_is_up(const json_t *backend)
{
    const json_t *state = json_object_get(backend, "state");
    return !state || (json_is_string(state)
                      && !strcmp(json_string_value(state), "up"));
}

/* Talking to the server. */

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
            print_json(body);
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

/* Sends 'method' for 'path' with 'body' (may be NULL; not stolen), adding
 * ?wait= to writes.  On success stores the answer's JSON in '*answer' (the
 * caller decrefs it) and its status in '*status' if not NULL, and returns
 * 0; otherwise reports the failure and returns its exit code. */
static int
call(const struct ctl *ctl, const char *method, const char *path,
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

/* Prints the one-line summary of a write, or its JSON with --json. */
static void
print_write_result(const struct ctl *ctl, const json_t *answer,
                   const char *what)
{
    const json_t *generation = json_object_get(answer, "generation");
    bool installed = json_is_true(json_object_get(answer, "installed"));

    if (ctl->json) {
        print_json(answer);
    } else if (json_is_integer(generation)) {
        printf("%s (generation %" JSON_INTEGER_FORMAT ", %s)\n", what,
               json_integer_value(generation),
               installed ? "installed" : "not yet installed");
    } else {
        printf("%s (%s)\n", what,
               installed ? "installed" : "not yet installed");
    }
}

static char *
service_path(const char *service, const char *rest)
{
    char *name = cli_http_escape(service);
    char *path = mslb_xasprintf("/v1/services/%s%s", name, rest);
    free(name);
    return path;
}

static char *
backend_path(const char *service, const char *backend)
{
    char *name = cli_http_escape(backend);
    char *rest = mslb_xasprintf("/backends/%s", name);
    char *path = service_path(service, rest);
    free(rest);
    free(name);
    return path;
}

/* Reading arguments into JSON bodies. */

/* Sets 'key' in 'obj' to the integer in 'text'; false if it is not one. */
static bool
set_integer(json_t *obj, const char *key, const char *text)
{
    long long value;

    if (!parse_integer(text, &value)) {
        return false;
    }
    json_object_set_new(obj, key, json_integer(value));
    return true;
}

/* Parses a --backend spec "name=s1,ip=...,mac=...[,port=P][,weight=W]
 * [,state=S]" into a new BACKEND object in '*backend'.  Returns 0, or
 * reports the error and returns CTL_EXIT_USAGE. */
static int
parse_backend_spec(const char *spec, json_t **backend)
{
    static const char *const keys[] = { "name", "ip", "port", "mac",
                                        "weight", "state" };
    char *copy = mslb_xasprintf("%s", spec), *save = NULL;
    json_t *b = json_object();
    int code = CTL_EXIT_OK;

    for (char *item = strtok_r(copy, ",", &save); item && !code;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        const char *key = item, *value;
        bool known = false;

        if (!eq) {
            code = usage_error("--backend %s: \"%s\" is not KEY=VALUE",
                               spec, item);
            break;
        }
        *eq = '\0';
        value = eq + 1;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            known |= !strcmp(key, keys[i]);
        }
        if (!known) {
            code = usage_error("--backend %s: unknown key \"%s\" (expected "
                               "name, ip, port, mac, weight or state)",
                               spec, key);
        } else if (json_object_get(b, key)) {
            code = usage_error("--backend %s: \"%s\" given twice", spec, key);
        } else if (!strcmp(key, "port") || !strcmp(key, "weight")) {
            if (!set_integer(b, key, value)) {
                code = usage_error("--backend %s: %s \"%s\" is not an integer",
                                   spec, key, value);
            }
        } else {
            json_object_set_new(b, key, json_string(value));
        }
    }
    for (size_t i = 0; !code && i < 3; i++) {
        static const char *const required[] = { "name", "ip", "mac" };
        if (!json_object_get(b, required[i])) {
            code = usage_error("--backend %s: \"%s\" is required",
                               spec, required[i]);
        }
    }
    free(copy);
    if (code) {
        json_decref(b);
        b = NULL;
    }
    *backend = b;
    return code;
}

/* Reads a JSON object from 'file' ("-": stdin) into '*obj'.  Returns 0, or
 * reports the error and returns CTL_EXIT_USAGE. */
static int
read_json_file(const char *file, json_t **obj)
{
    bool is_stdin = !strcmp(file, "-");
    const char *label = is_stdin ? "stdin" : file;
    FILE *stream = is_stdin ? stdin : fopen(file, "r");
    json_error_t jerr;

    *obj = NULL;
    if (!stream) {
        return usage_error("cannot read %s: %s", file, strerror(errno));
    }
    *obj = json_loadf(stream, 0, &jerr);
    if (!is_stdin) {
        fclose(stream);
    }
    if (!*obj) {
        return usage_error("%s:%d:%d: %s", label, jerr.line, jerr.column,
                           jerr.text);
    }
    if (!json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        return usage_error("%s: expected a JSON object (one service)", label);
    }
    return CTL_EXIT_OK;
}

/* The commands. */

static int
cmd_list(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const headers[] = { "NAME", "VIP", "PROTO", "PORT",
                                           "MODE", "BACKENDS" };
    json_t *answer, *service, *services;
    struct cli_table *t;
    size_t i;
    int code;

    code = call(ctl, "GET", "/v1/services", NULL, &answer, NULL);
    if (code) {
        return code;
    }
    if (ctl->json) {
        print_json(answer);
        json_decref(answer);
        return CTL_EXIT_OK;
    }

    t = cli_table_create(6, headers);
    services = json_object_get(answer, "services");
    json_array_foreach (services, i, service) {
        json_t *backends = json_object_get(service, "backends"), *b;
        size_t up = 0, j;

        json_array_foreach (backends, j, b) {
            up += backend_is_up(b);
        }
        table_add_value(t, json_object_get(service, "name"));
        table_add_value(t, json_object_get(service, "vip"));
        table_add_value(t, json_object_get(service, "protocol"));
        table_add_value(t, json_object_get(service, "port"));
        table_add_value(t, json_object_get(service, "mode"));
        cli_table_add(t, "%zu/%zu", up, json_array_size(backends));
    }
    cli_table_print(t, stdout);
    cli_table_destroy(t);
    json_decref(answer);
    return CTL_EXIT_OK;
}

static int
cmd_show(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const fields[] = { "name", "vip", "protocol", "port",
                                          "mode", "bridges" };
    static const char *const headers[] = { "NAME", "IP", "PORT", "MAC",
                                           "WEIGHT", "STATE" };
    char *path = service_path(args[0], "");
    json_t *service, *backends, *b, *value;
    struct cli_table *t;
    const char *key;
    size_t i, up = 0;
    int code;

    code = call(ctl, "GET", path, NULL, &service, NULL);
    free(path);
    if (code) {
        return code;
    }
    if (ctl->json) {
        print_json(service);
        json_decref(service);
        return CTL_EXIT_OK;
    }

    /* The known fields in a fixed order, then whatever else a newer
     * server adds, so that nothing it says is hidden. */
    t = cli_table_create(2, NULL);
    for (i = 0; i < sizeof fields / sizeof *fields; i++) {
        cli_table_add(t, "%s:", fields[i]);
        table_add_value(t, json_object_get(service, fields[i]));
    }
    json_object_foreach (service, key, value) {
        bool known = !strcmp(key, "backends");
        for (i = 0; i < sizeof fields / sizeof *fields; i++) {
            known |= !strcmp(key, fields[i]);
        }
        if (!known) {
            cli_table_add(t, "%s:", key);
            table_add_value(t, value);
        }
    }
    backends = json_object_get(service, "backends");
    json_array_foreach (backends, i, b) {
        up += backend_is_up(b);
    }
    cli_table_add(t, "backends:");
    cli_table_add(t, "%zu (%zu up)", json_array_size(backends), up);
    cli_table_print(t, stdout);
    cli_table_destroy(t);

    putchar('\n');
    t = cli_table_create(6, headers);
    json_array_foreach (backends, i, b) {
        const json_t *port = json_object_get(b, "port");
        const json_t *weight = json_object_get(b, "weight");
        const json_t *state = json_object_get(b, "state");

        table_add_value(t, json_object_get(b, "name"));
        table_add_value(t, json_object_get(b, "ip"));
        table_add_value(t, port ? port : json_object_get(service, "port"));
        table_add_value(t, json_object_get(b, "mac"));
        if (weight) {
            table_add_value(t, weight);
        } else {
            cli_table_add(t, "1");
        }
        if (state) {
            table_add_value(t, state);
        } else {
            cli_table_add(t, "up");
        }
    }
    cli_table_print(t, stdout);
    cli_table_destroy(t);
    json_decref(service);
    return CTL_EXIT_OK;
}

/* Builds the SERVICE body of "create NAME --vip ..." in '*service'. */
static int
service_from_options(const struct ctl *ctl, const char *name,
                     json_t **service)
{
    json_t *s, *bridges, *backends;
    int code = CTL_EXIT_OK;

    *service = NULL;
    if (!ctl->vip || !ctl->protocol || !ctl->port || !ctl->n_bridges) {
        return usage_error("create %s: --vip, --protocol, --port and "
                           "--bridge are required", name);
    }
    s = json_object();
    json_object_set_new(s, "name", json_string(name));
    json_object_set_new(s, "vip", json_string(ctl->vip));
    json_object_set_new(s, "protocol", json_string(ctl->protocol));
    if (!set_integer(s, "port", ctl->port)) {
        json_decref(s);
        return usage_error("--port \"%s\" is not an integer", ctl->port);
    }
    if (ctl->mode) {
        json_object_set_new(s, "mode", json_string(ctl->mode));
    }
    bridges = json_array();
    for (size_t i = 0; i < ctl->n_bridges; i++) {
        json_array_append_new(bridges, json_string(ctl->bridges[i]));
    }
    json_object_set_new(s, "bridges", bridges);
    backends = json_array();
    for (size_t i = 0; i < ctl->n_backends && !code; i++) {
        json_t *b;
        code = parse_backend_spec(ctl->backends[i], &b);
        if (!code) {
            json_array_append_new(backends, b);
        }
    }
    json_object_set_new(s, "backends", backends);
    if (code) {
        json_decref(s);
        return code;
    }
    *service = s;
    return CTL_EXIT_OK;
}

static int
cmd_create(struct ctl *ctl, char **args, size_t n_args)
{
    const json_t *name;
    json_t *service, *answer;
    char *what;
    int code;

    if (ctl->file) {
        if (n_args || ctl->seen & ~(OPT_GLOBALS | OPT_FILE)) {
            return usage_error("create --file takes no NAME or other "
                               "service options");
        }
        code = read_json_file(ctl->file, &service);
    } else if (n_args == 1) {
        code = service_from_options(ctl, args[0], &service);
    } else {
        return usage_error("create needs --file FILE or NAME and options");
    }
    if (code) {
        return code;
    }

    code = call(ctl, "POST", "/v1/services", service, &answer, NULL);
    if (!code) {
        name = json_object_get(json_object_get(answer, "service"), "name");
        if (!json_is_string(name)) {
            name = json_object_get(service, "name");
        }
        what = mslb_xasprintf("service %s created", json_is_string(name)
                         ? json_string_value(name) : "(unnamed)");
        print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    json_decref(service);
    return code;
}

static int
cmd_replace(struct ctl *ctl, char **args, size_t n_args)
{
    json_t *service, *answer;
    const json_t *name;
    long status = 0;
    char *path, *what;
    int code;

    if (!ctl->file) {
        return usage_error("replace needs --file FILE");
    }
    code = read_json_file(ctl->file, &service);
    if (code) {
        return code;
    }
    name = json_object_get(service, "name");
    if (!json_is_string(name) || !json_string_length(name)) {
        json_decref(service);
        return usage_error("%s: the service has no \"name\" to replace",
                           ctl->file);
    }

    path = service_path(json_string_value(name), "");
    code = call(ctl, "PUT", path, service, &answer, &status);
    free(path);
    if (!code) {
        what = mslb_xasprintf("service %s %s", json_string_value(name),
                         status == 201 ? "created" : "replaced");
        print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    json_decref(service);
    return code;
}

static int
cmd_delete(struct ctl *ctl, char **args, size_t n_args)
{
    char *path = service_path(args[0], ""), *what;
    json_t *answer;
    int code;

    code = call(ctl, "DELETE", path, NULL, &answer, NULL);
    free(path);
    if (!code) {
        what = mslb_xasprintf("service %s deleted", args[0]);
        print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    return code;
}

static int
cmd_backend_add(struct ctl *ctl, char **args, size_t n_args)
{
    json_t *backend, *answer;
    char *path, *what;
    int code;

    if (!ctl->name || !ctl->ip || !ctl->mac) {
        return usage_error("backend add: --name, --ip and --mac are required");
    }
    backend = json_object();
    json_object_set_new(backend, "name", json_string(ctl->name));
    json_object_set_new(backend, "ip", json_string(ctl->ip));
    if (ctl->port && !set_integer(backend, "port", ctl->port)) {
        json_decref(backend);
        return usage_error("--port \"%s\" is not an integer", ctl->port);
    }
    json_object_set_new(backend, "mac", json_string(ctl->mac));
    if (ctl->weight && !set_integer(backend, "weight", ctl->weight)) {
        json_decref(backend);
        return usage_error("--weight \"%s\" is not an integer", ctl->weight);
    }
    if (ctl->state) {
        json_object_set_new(backend, "state", json_string(ctl->state));
    }

    path = service_path(args[0], "/backends");
    code = call(ctl, "POST", path, backend, &answer, NULL);
    free(path);
    if (!code) {
        what = mslb_xasprintf("backend %s added to service %s", ctl->name, args[0]);
        print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    json_decref(backend);
    return code;
}

static int
cmd_backend_remove(struct ctl *ctl, char **args, size_t n_args)
{
    char *path = backend_path(args[0], args[1]), *what;
    json_t *answer;
    int code;

    code = call(ctl, "DELETE", path, NULL, &answer, NULL);
    free(path);
    if (!code) {
        what = mslb_xasprintf("backend %s removed from service %s",
                         args[1], args[0]);
        print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    return code;
}

/* PATCHes one field of backend args[1] of service args[0]. */
static int
patch_backend(struct ctl *ctl, char **args, json_t *patch, const char *what)
{
    char *path = backend_path(args[0], args[1]), *line;
    json_t *answer;
    int code;

    code = call(ctl, "PATCH", path, patch, &answer, NULL);
    free(path);
    json_decref(patch);
    if (!code) {
        line = mslb_xasprintf("backend %s of service %s set to %s",
                         args[1], args[0], what);
        print_write_result(ctl, answer, line);
        free(line);
        json_decref(answer);
    }
    return code;
}

static int
cmd_backend_state(struct ctl *ctl, char **args, size_t n_args)
{
    /* The command's second word is the state: drain, up or down. */
    const char *state = ctl_command->name + strlen("backend ");

    return patch_backend(ctl, args, json_pack("{ss}", "state", state), state);
}

static int
cmd_backend_weight(struct ctl *ctl, char **args, size_t n_args)
{
    json_t *patch = json_object();
    char *what;
    int code;

    if (!set_integer(patch, "weight", args[2])) {
        json_decref(patch);
        return usage_error("weight \"%s\" is not an integer", args[2]);
    }
    what = mslb_xasprintf("weight %s", args[2]);
    code = patch_backend(ctl, args, patch, what);
    free(what);
    return code;
}

static void
format_uptime(const json_t *uptime, char *buf, size_t size)
{
    long long s;

    if (!json_is_number(uptime)) {
        snprintf(buf, size, "-");
        return;
    }
    s = llround(json_number_value(uptime));
    if (s >= 86400) {
        snprintf(buf, size, "%lldd%02lldh%02lldm%02llds", s / 86400,
                 s / 3600 % 24, s / 60 % 60, s % 60);
    } else if (s >= 3600) {
        snprintf(buf, size, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60,
                 s % 60);
    } else if (s >= 60) {
        snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
    } else {
        snprintf(buf, size, "%llds", s);
    }
}

static int
cmd_status(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const headers[] = { "NAME", "CONNECTED", "DPID",
                                           "OPENFLOW", "DESIRED", "INSTALLED",
                                           "FLOWS", "GROUPS" };
    json_t *health, *answer, *bridges, *br;
    struct cli_table *t;
    char uptime[64];
    size_t i;
    int code;

    code = call(ctl, "GET", "/v1/health", NULL, &health, NULL);
    if (code) {
        return code;
    }
    code = call(ctl, "GET", "/v1/bridges", NULL, &answer, NULL);
    if (code) {
        json_decref(health);
        return code;
    }
    bridges = json_object_get(answer, "bridges");

    if (ctl->json) {
        /* Two answers, one document, each as the server sent it. */
        json_t *both = json_pack("{sOsO}", "health", health, "bridges",
                                 bridges ? bridges : json_null());
        print_json(both);
        json_decref(both);
    } else {
        const json_t *counts = json_object_get(health, "bridges");
        char *status = value_text(json_object_get(health, "status"));
        char *generation = value_text(json_object_get(health, "generation"));
        char *configured = value_text(json_object_get(counts, "configured"));
        char *connected = value_text(json_object_get(counts, "connected"));
        char *in_step = value_text(json_object_get(counts, "in_step"));

        format_uptime(json_object_get(health, "uptime_seconds"),
                      uptime, sizeof uptime);
        printf("mslbd %s: generation %s, up %s, bridges: %s configured, "
               "%s connected, %s in step\n", status, generation, uptime,
               configured, connected, in_step);
        free(status);
        free(generation);
        free(configured);
        free(connected);
        free(in_step);

        putchar('\n');
        t = cli_table_create(8, headers);
        json_array_foreach (bridges, i, br) {
            table_add_value(t, json_object_get(br, "name"));
            table_add_value(t, json_object_get(br, "connected"));
            table_add_value(t, json_object_get(br, "datapath_id"));
            table_add_value(t, json_object_get(br, "openflow_version"));
            table_add_value(t, json_object_get(br, "desired_generation"));
            table_add_value(t, json_object_get(br, "installed_generation"));
            table_add_value(t, json_object_get(br, "flows"));
            table_add_value(t, json_object_get(br, "groups"));
        }
        cli_table_print(t, stdout);
        cli_table_destroy(t);
    }
    json_decref(answer);
    json_decref(health);
    return CTL_EXIT_OK;
}

static void
stats_add_service(struct cli_table *t, const json_t *service)
{
    const json_t *backends = json_object_get(service, "backends");
    const json_t *sessions = json_object_get(service, "sessions"), *b;
    json_int_t total = 0;
    bool any = false;
    size_t i;

    /* The service row's sessions: the sum over its backends, unless the
     * server gives its own count. */
    json_array_foreach (backends, i, b) {
        const json_t *n = json_object_get(b, "sessions");
        if (json_is_integer(n)) {
            total += json_integer_value(n);
            any = true;
        }
    }
    table_add_value(t, json_object_get(service, "name"));
    cli_table_add(t, "(all)");
    table_add_value(t, json_object_get(service, "packets"));
    table_add_value(t, json_object_get(service, "bytes"));
    if (sessions || !any) {
        table_add_value(t, sessions);
    } else {
        cli_table_add(t, "%" JSON_INTEGER_FORMAT, total);
    }
    json_array_foreach (backends, i, b) {
        table_add_value(t, json_object_get(service, "name"));
        table_add_value(t, json_object_get(b, "name"));
        table_add_value(t, json_object_get(b, "packets"));
        table_add_value(t, json_object_get(b, "bytes"));
        table_add_value(t, json_object_get(b, "sessions"));
    }
}

static int
cmd_stats(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const headers[] = { "SERVICE", "BACKEND", "PACKETS",
                                           "BYTES", "SESSIONS" };
    json_t *answer, *services, *service, *match = NULL;
    struct cli_table *t;
    size_t i;
    int code;

    code = call(ctl, "GET", "/v1/stats", NULL, &answer, NULL);
    if (code) {
        return code;
    }
    services = json_object_get(answer, "services");
    if (n_args) {
        json_array_foreach (services, i, service) {
            const json_t *name = json_object_get(service, "name");
            if (json_is_string(name)
                && !strcmp(json_string_value(name), args[0])) {
                match = service;
                break;
            }
        }
        if (!match) {
            fprintf(stderr, "mslbctl: no service named \"%s\"\n", args[0]);
            json_decref(answer);
            return CTL_EXIT_NOT_FOUND;
        }
    }

    if (ctl->json) {
        print_json(match ? match : answer);
    } else {
        t = cli_table_create(5, headers);
        json_array_foreach (services, i, service) {
            if (!match || service == match) {
                stats_add_service(t, service);
            }
        }
        cli_table_print(t, stdout);
        cli_table_destroy(t);
    }
    json_decref(answer);
    return CTL_EXIT_OK;
}

static const struct ctl_command commands[] = {
    { "list", "", 0, 0, 0, cmd_list },
    { "show", "NAME", 1, 1, 0, cmd_show },
    { "create",
      "--file FILE | NAME --vip IP --protocol tcp|udp --port N --bridge BR "
      "[--bridge BR]... [--mode nat] [--backend SPEC]...",
      0, 1,
      OPT_FILE | OPT_VIP | OPT_PROTOCOL | OPT_PORT | OPT_MODE | OPT_BRIDGE
      | OPT_BACKEND, cmd_create },
    { "replace", "--file FILE", 0, 0, OPT_FILE, cmd_replace },
    { "delete", "NAME", 1, 1, 0, cmd_delete },
    { "backend add",
      "SVC --name N --ip IP --mac MAC [--port P] [--weight W] [--state S]",
      1, 1, OPT_NAME | OPT_IP | OPT_MAC | OPT_PORT | OPT_WEIGHT | OPT_STATE,
      cmd_backend_add },
    { "backend remove", "SVC NAME", 2, 2, 0, cmd_backend_remove },
    { "backend drain", "SVC NAME", 2, 2, 0, cmd_backend_state },
    { "backend up", "SVC NAME", 2, 2, 0, cmd_backend_state },
    { "backend down", "SVC NAME", 2, 2, 0, cmd_backend_state },
    { "backend weight", "SVC NAME W", 3, 3, 0, cmd_backend_weight },
    { "status", "", 0, 0, 0, cmd_status },
    { "stats", "[SVC]", 0, 1, 0, cmd_stats },
};

static const char *
option_name(unsigned int bit)
{
    for (const struct option *o = long_options; o->name; o++) {
        if ((unsigned int) o->val == bit) {
            return o->name;
        }
    }
    return "?";
}

static void
push(const char ***list, size_t *n, const char *s)
{
    *list = realloc(*list, (*n + 1) * sizeof **list);
    if (!*list) {
        fputs("mslbctl: out of memory\n", stderr);
        abort();
    }
    (*list)[(*n)++] = s;
}

/* Parses the command line into 'ctl'.  Returns -1 to go on, or an exit
 * code (help was printed, or a usage error was reported). */
static int
parse_options(struct ctl *ctl, int argc, char *argv[])
{
    const char *url = getenv("MSLB_URL"), *token = getenv("MSLB_TOKEN");
    const char *timeout = NULL;
    bool help = false;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_FILE: ctl->file = optarg; break;
        case OPT_VIP: ctl->vip = optarg; break;
        case OPT_PROTOCOL: ctl->protocol = optarg; break;
        case OPT_PORT: ctl->port = optarg; break;
        case OPT_MODE: ctl->mode = optarg; break;
        case OPT_BRIDGE:
            push(&ctl->bridges, &ctl->n_bridges, optarg);
            break;
        case OPT_BACKEND:
            push(&ctl->backends, &ctl->n_backends, optarg);
            break;
        case OPT_NAME: ctl->name = optarg; break;
        case OPT_IP: ctl->ip = optarg; break;
        case OPT_MAC: ctl->mac = optarg; break;
        case OPT_WEIGHT: ctl->weight = optarg; break;
        case OPT_STATE: ctl->state = optarg; break;
        case OPT_URL: url = optarg; break;
        case OPT_TOKEN: token = optarg; break;
        case OPT_JSON: ctl->json = true; break;
        case OPT_WAIT: ctl->wait = optarg; break;
        case OPT_TIMEOUT: timeout = optarg; break;
        case 'h': c = OPT_HELP; /* Fall through. */
        case OPT_HELP: help = true; break;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        case '?':
        default:
            if (optopt) {
                return usage_error("unknown option -%c", optopt);
            }
            return usage_error("unknown option %s", argv[optind - 1]);
        }
        ctl->seen |= c;
    }
    if (help) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    ctl->args = argv + optind;
    ctl->n_args = argc - optind;

    if (!url || !*url) {
        url = CTL_DEFAULT_URL;
    }
    if ((strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        || has_control_chars(url) || strpbrk(url, " ?#")) {
        return usage_error("--url %s: expected http://HOST[:PORT][/PREFIX] "
                           "or https://...", url);
    }
    {
        /* "http://h:1/" + "/v1/..." would make "//v1". */
        char *base = mslb_xasprintf("%s", url);
        size_t len = strlen(base);
        while (len && base[len - 1] == '/') {
            base[--len] = '\0';
        }
        ctl->http.base_url = base;
    }

    if (token && *token) {
        /* It goes into a header line as is. */
        if (has_control_chars(token)) {
            return usage_error("the token contains control characters");
        }
        ctl->http.token = token;
    }

    if (ctl->wait && !is_digits(ctl->wait)) {
        return usage_error("--wait %s: expected whole seconds", ctl->wait);
    }
    ctl->http.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
    if (ctl->wait) {
        double wait_ms = strtod(ctl->wait, NULL) * 1000 + CTL_WAIT_SLACK_MS;
        if (wait_ms > ctl->http.timeout_ms) {
            ctl->http.timeout_ms = wait_ms > 1e9 ? 1e9 : wait_ms;
        }
    }
    if (timeout) {
        char *end;
        double s;

        errno = 0;
        s = strtod(timeout, &end);
        if (!*timeout || *end || errno || !isfinite(s) || s <= 0
            || s > 1e6) {
            return usage_error("--timeout %s: expected seconds, more than 0",
                               timeout);
        }
        ctl->http.timeout_ms = ceil(s * 1000);
    }
    return -1;
}

/* Finds the command named by the first one or two positional arguments
 * and checks its arguments and options. */
static int
find_command(struct ctl *ctl, const struct ctl_command **cmdp,
             char ***args, size_t *n_args)
{
    const struct ctl_command *cmd = NULL;
    size_t words = 1;
    char *name;

    if (!ctl->n_args) {
        return usage_error("no command given");
    }
    if (!strcmp(ctl->args[0], "help")) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (!strcmp(ctl->args[0], "backend")) {
        if (ctl->n_args < 2) {
            return usage_error("backend needs a subcommand: add, remove, "
                               "drain, up, down or weight");
        }
        words = 2;
        name = mslb_xasprintf("backend %s", ctl->args[1]);
    } else {
        name = mslb_xasprintf("%s", ctl->args[0]);
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (!strcmp(commands[i].name, name)) {
            cmd = &commands[i];
        }
    }
    if (!cmd) {
        int code = usage_error("unknown command \"%s\"", name);
        free(name);
        return code;
    }
    free(name);

    ctl_command = cmd;
    *cmdp = cmd;
    *args = ctl->args + words;
    *n_args = ctl->n_args - words;
    if (*n_args < cmd->min_args || *n_args > cmd->max_args) {
        return usage_error("%s: wrong number of arguments", cmd->name);
    }
    for (unsigned int bit = 1; bit < OPT_URL; bit <<= 1) {
        if (ctl->seen & bit & ~cmd->options) {
            return usage_error("%s does not take --%s", cmd->name,
                               option_name(bit));
        }
    }
    return -1;
}

int
main(int argc, char *argv[])
{
    const struct ctl_command *cmd = NULL;
    struct ctl ctl = { .json = false };
    size_t n_args = 0;
    char **args = NULL;
    int code;

    code = parse_options(&ctl, argc, argv);
    if (code < 0) {
        code = find_command(&ctl, &cmd, &args, &n_args);
    }
    if (code < 0) {
        if (cli_http_global_init()) {
            fputs("mslbctl: cannot initialize libcurl\n", stderr);
            code = CTL_EXIT_UNREACHABLE;
        } else {
            code = cmd->run(&ctl, args, n_args);
            cli_http_global_uninit();
        }
    }
    free((char *) ctl.http.base_url);
    free(ctl.bridges);
    free(ctl.backends);
    return code;
}
