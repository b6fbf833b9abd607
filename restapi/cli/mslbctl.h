/* mslbctl's own header, shared by its files:
 *   mslbctl.c       main, options, the command table, usage
 *   ctl_request.c   requests to mslbd, failures as exit codes, the
 *                   one-line summary of a write
 *   ctl_output.c    the server's JSON as indented JSON or table cells
 *   ctl_body.c      arguments read into JSON bodies
 *   ctl_services.c  list, show, create, replace, delete
 *   ctl_backends.c  backend add, remove, drain, up, down, weight
 *   ctl_status.c    status, stats */
#ifndef MSLBCTL_H
#define MSLBCTL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "cli_http.h"

struct cli_table;

/* Exit codes: part of the interface, see usage() and docs/cli.md. */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_REFUSED = 1,       /* 4xx other than 401 and 404. */
    CTL_EXIT_USAGE = 2,         /* Found before any request is sent. */
    CTL_EXIT_UNREACHABLE = 3,   /* No answer, time out, 5xx, not the API. */
    CTL_EXIT_NOT_FOUND = 4,     /* 404. */
    CTL_EXIT_UNAUTHORIZED = 5,  /* 401. */
};

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
    OPT_SET = 1 << 12,          /* --set KEY=VALUE: any field of the body. */
    /* Global options, accepted before or after the command. */
    OPT_URL = 1 << 16,
    OPT_TOKEN = 1 << 17,
    OPT_JSON = 1 << 18,
    OPT_WAIT = 1 << 19,
    OPT_TIMEOUT = 1 << 20,
    OPT_HELP = 1 << 21,
    OPT_VERSION = 1 << 22,
};
#define OPT_GLOBALS (OPT_URL | OPT_TOKEN | OPT_JSON | OPT_WAIT | OPT_TIMEOUT \
                     | OPT_HELP | OPT_VERSION)

struct ctl_command;

struct ctl {
    /* Global options. */
    struct cli_http_conf http;
    bool json;
    const char *wait;           /* Digits, or NULL for the server's default. */

    /* Command options: the last one given wins, except the lists. */
    unsigned int seen;          /* OPT_* bits given. */
    const char *file, *vip, *protocol, *port, *mode;
    const char *name, *ip, *mac, *weight, *state;
    const char **bridges, **backends, **sets;
    size_t n_bridges, n_backends, n_sets;

    /* Positional arguments, the command's words first. */
    char **args;
    size_t n_args;

    const struct ctl_command *command;  /* The one being run. */
};

struct ctl_command {
    const char *name;           /* One or two words. */
    const char *synopsis;       /* What follows the name. */
    size_t min_args, max_args;  /* After the name. */
    unsigned int options;       /* OPT_* bits it accepts besides globals. */
    int (*run)(struct ctl *, char **args, size_t n_args);
};

/* mslbctl.c: reports a usage error (with the synopsis of the command
 * being run, if any); returns CTL_EXIT_USAGE for the caller to return. */
int ctl_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* ctl_request.c */
/* Sends 'method' for 'path' with 'body' (may be NULL; not stolen), adding
 * ?wait= to writes.  On success stores the answer's JSON in '*answer' (the
 * caller decrefs it) and its status in '*status' if not NULL, and returns
 * 0; otherwise reports the failure and returns its exit code. */
int ctl_call(const struct ctl *, const char *method, const char *path,
             const json_t *body, json_t **answer, long *status);
/* Prints the one-line summary 'what' of a write, or its JSON with --json. */
void ctl_print_write_result(const struct ctl *, const json_t *answer,
                            const char *what);
/* A read shown as a table: ctl_call() of GET 'path'.  With --json the
 * answer is printed and '*answer' is NULL: the caller is done. */
int ctl_get(const struct ctl *, const char *path, json_t **answer);
/* A write whose summary does not depend on the answer: ctl_call(), then
 * ctl_print_write_result() with 'fmt...'.  Returns ctl_call()'s code. */
int ctl_write(const struct ctl *, const char *method, const char *path,
              const json_t *body, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* "/v1/services/SERVICE" + 'rest', and a backend's path; malloc'd. */
char *ctl_service_path(const char *service, const char *rest);
char *ctl_backend_path(const char *service, const char *backend);
/* PUT of the JSON object in --file to path_of(its "name"): "KIND NAME
 * created" or "replaced".  Returns ctl_call()'s code, or a usage error's
 * (unreadable file, no name). */
int ctl_put_file(const struct ctl *, const char *kind,
                 char *(*path_of)(const char *name));

/* ctl_output.c */
/* Prints 'json' indented, as the server sent it (key order kept). */
void ctl_print_json(const json_t *);
/* 'v' as a table cell, malloc'd: "-" for absent or null. */
char *ctl_value_text(const json_t *v);
void ctl_table_add_value(struct cli_table *, const json_t *v);
/* Whether a BACKEND object's state is "up" (absent means up). */
bool ctl_backend_is_up(const json_t *backend);

/* ctl_body.c: each returns 0, or reports the error and returns
 * CTL_EXIT_USAGE. */
/* Sets 'key' in 'obj' to the integer in 'text'; false if it is not one. */
bool ctl_set_integer(json_t *obj, const char *key, const char *text);
/* A --backend spec "name=s1,ip=...,mac=...[,port=P][,weight=W][,state=S]"
 * as a new BACKEND object in '*backend'. */
int ctl_parse_backend_spec(const char *spec, json_t **backend);
/* Applies every --set KEY=VALUE to 'body': VALUE as JSON when it is JSON
 * (a number, true, false, null, an object, an array, a quoted string),
 * else as a string.  Returns 0 or a usage error's exit code. */
int ctl_apply_sets(const struct ctl *, json_t *body);
/* The JSON object in 'file' ("-": stdin), new, in '*obj'. */
int ctl_read_json_file(const char *file, json_t **obj);

/* The commands (ctl_services.c, ctl_backends.c, ctl_status.c). */
int ctl_cmd_list(struct ctl *, char **args, size_t n_args);
int ctl_cmd_show(struct ctl *, char **args, size_t n_args);
int ctl_cmd_create(struct ctl *, char **args, size_t n_args);
int ctl_cmd_replace(struct ctl *, char **args, size_t n_args);
int ctl_cmd_delete(struct ctl *, char **args, size_t n_args);
int ctl_cmd_backend_add(struct ctl *, char **args, size_t n_args);
int ctl_cmd_backend_remove(struct ctl *, char **args, size_t n_args);
int ctl_cmd_backend_state(struct ctl *, char **args, size_t n_args);
int ctl_cmd_backend_weight(struct ctl *, char **args, size_t n_args);
int ctl_cmd_status(struct ctl *, char **args, size_t n_args);
int ctl_cmd_stats(struct ctl *, char **args, size_t n_args);
int ctl_cmd_bridge_show(struct ctl *, char **args, size_t n_args);
int ctl_cmd_bridge_put(struct ctl *, char **args, size_t n_args);
int ctl_cmd_bridge_delete(struct ctl *, char **args, size_t n_args);

#endif /* mslbctl.h */
