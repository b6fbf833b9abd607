/* mslbctl's service commands: list, show, create, replace, delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/xalloc.h"
#include "cli_table.h"
#include "mslbctl.h"

int
ctl_cmd_list(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const headers[] = { "NAME", "VIP", "PROTO", "PORT",
                                           "MODE", "BACKENDS" };
    json_t *answer, *service, *services;
    struct cli_table *t;
    size_t i;
    int code;

    code = ctl_get(ctl, "/v1/services", &answer);
    if (code || !answer) {
        return code;
    }

    t = cli_table_create(6, headers);
    services = json_object_get(answer, "services");
    json_array_foreach (services, i, service) {
        json_t *backends = json_object_get(service, "backends"), *b;
        size_t up = 0, j;

        json_array_foreach (backends, j, b) {
            up += ctl_backend_is_up(b);
        }
        ctl_table_add_value(t, json_object_get(service, "name"));
        ctl_table_add_value(t, json_object_get(service, "vip"));
        ctl_table_add_value(t, json_object_get(service, "protocol"));
        ctl_table_add_value(t, json_object_get(service, "port"));
        ctl_table_add_value(t, json_object_get(service, "mode"));
        cli_table_add(t, "%zu/%zu", up, json_array_size(backends));
    }
    cli_table_print(t, stdout);
    cli_table_destroy(t);
    json_decref(answer);
    return CTL_EXIT_OK;
}

int
ctl_cmd_show(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const fields[] = { "name", "vip", "protocol", "port",
                                          "mode", "bridges" };
    static const char *const headers[] = { "NAME", "IP", "PORT", "MAC",
                                           "WEIGHT", "STATE", "HEALTH" };
    char *path = ctl_service_path(args[0], "");
    json_t *service, *backends, *b, *value;
    struct cli_table *t;
    const char *key;
    size_t i, up = 0;
    bool monitored = false;
    int code;

    code = ctl_get(ctl, path, &service);
    free(path);
    if (code || !service) {
        return code;
    }

    /* The known fields in a fixed order, then whatever else a newer
     * server adds, so that nothing it says is hidden. */
    t = cli_table_create(2, NULL);
    for (i = 0; i < sizeof fields / sizeof *fields; i++) {
        cli_table_add(t, "%s:", fields[i]);
        ctl_table_add_value(t, json_object_get(service, fields[i]));
    }
    json_object_foreach (service, key, value) {
        bool known = !strcmp(key, "backends") || !strcmp(key, "status");
        for (i = 0; i < sizeof fields / sizeof *fields; i++) {
            known |= !strcmp(key, fields[i]);
        }
        if (!known) {
            cli_table_add(t, "%s:", key);
            ctl_table_add_value(t, value);
        }
    }
    backends = json_object_get(service, "backends");
    json_array_foreach (backends, i, b) {
        up += ctl_backend_is_up(b);
        monitored |= json_object_get(b, "health") != NULL;
    }
    cli_table_add(t, "backends:");
    cli_table_add(t, "%zu (%zu up)", json_array_size(backends), up);
    cli_table_print(t, stdout);
    cli_table_destroy(t);

    putchar('\n');
    /* HEALTH only when a monitor probes some backend. */
    t = cli_table_create(monitored ? 7 : 6, headers);
    json_array_foreach (backends, i, b) {
        const json_t *port = json_object_get(b, "port");
        const json_t *weight = json_object_get(b, "weight");
        const json_t *state = json_object_get(b, "state");

        ctl_table_add_value(t, json_object_get(b, "name"));
        ctl_table_add_value(t, json_object_get(b, "ip"));
        ctl_table_add_value(t, port ? port : json_object_get(service, "port"));
        const json_t *mac = json_object_get(b, "mac");
        const json_t *resolved = json_object_get(b, "resolved_mac");
        if (mac || !resolved) {
            ctl_table_add_value(t, mac);
        } else if (json_is_object(resolved)) {
            cli_table_add(t, "%s (resolved)", json_string_value(
                              json_object_get(resolved, "mac")));
        } else {
            cli_table_add(t, "unresolved");
        }
        if (weight) {
            ctl_table_add_value(t, weight);
        } else {
            cli_table_add(t, "1");
        }
        if (state) {
            ctl_table_add_value(t, state);
        } else {
            cli_table_add(t, "up");
        }
        if (monitored) {
            const json_t *h = json_object_get(b, "health");
            const char *hs = json_string_value(json_object_get(h, "state"));
            const char *why = json_string_value(json_object_get(h,
                                                                "reason"));
            if (!hs) {
                cli_table_add(t, "-");
            } else if (strcmp(hs, "up") && why) {
                cli_table_add(t, "%s: %s", hs, why);
            } else {
                cli_table_add(t, "%s", hs);
            }
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
    if (!ctl->vip || !ctl->protocol || !ctl->n_bridges) {
        return ctl_usage_error("create %s: --vip, --protocol and --bridge "
                               "are required", name);
    }
    s = json_object();
    json_object_set_new(s, "name", json_string(name));
    json_object_set_new(s, "vip", json_string(ctl->vip));
    json_object_set_new(s, "protocol", json_string(ctl->protocol));
    /* Without --port: every port (protocol any, or a DSR service of every
     * port of its protocol); the server says when one is needed. */
    if (ctl->port && !ctl_set_integer(s, "port", ctl->port)) {
        json_decref(s);
        return ctl_usage_error("--port \"%s\" is not an integer", ctl->port);
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
        code = ctl_parse_backend_spec(ctl->backends[i], &b);
        if (!code) {
            json_array_append_new(backends, b);
        }
    }
    json_object_set_new(s, "backends", backends);
    if (!code) {
        code = ctl_apply_sets(ctl, s);
    }
    if (code) {
        json_decref(s);
        return code;
    }
    *service = s;
    return CTL_EXIT_OK;
}

int
ctl_cmd_create(struct ctl *ctl, char **args, size_t n_args)
{
    const json_t *name;
    json_t *service, *answer;
    char *what;
    int code;

    if (ctl->file) {
        if (n_args || ctl->seen & ~(OPT_GLOBALS | OPT_FILE)) {
            return ctl_usage_error("create --file takes no NAME or other "
                                   "service options");
        }
        code = ctl_read_json_file(ctl->file, &service);
    } else if (n_args == 1) {
        code = service_from_options(ctl, args[0], &service);
    } else {
        return ctl_usage_error("create needs --file FILE or NAME and "
                               "options");
    }
    if (code) {
        return code;
    }

    code = ctl_call(ctl, "POST", "/v1/services", service, &answer, NULL);
    if (!code) {
        name = json_object_get(json_object_get(answer, "service"), "name");
        if (!json_is_string(name)) {
            name = json_object_get(service, "name");
        }
        what = mslb_xasprintf("service %s created", json_is_string(name)
                              ? json_string_value(name) : "(unnamed)");
        ctl_print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    json_decref(service);
    return code;
}

static char *
service_path(const char *name)
{
    return ctl_service_path(name, "");
}

int
ctl_cmd_replace(struct ctl *ctl, char **args, size_t n_args)
{
    if (!ctl->file) {
        return ctl_usage_error("replace needs --file FILE");
    }
    return ctl_put_file(ctl, "service", service_path);
}

int
ctl_cmd_delete(struct ctl *ctl, char **args, size_t n_args)
{
    char *path = ctl_service_path(args[0], "");
    int code = ctl_write(ctl, "DELETE", path, NULL, "service %s deleted",
                         args[0]);
    free(path);
    return code;
}
