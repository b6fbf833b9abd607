/* mslbctl's status and stats commands: the daemon's health and bridges,
 * packets, bytes and sessions per service and backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_table.h"
#include "mslbctl.h"

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

/* Prints the one-line summary of a /v1/health answer. */
static void
print_health(const json_t *health)
{
    const json_t *counts = json_object_get(health, "bridges");
    char *status = ctl_value_text(json_object_get(health, "status"));
    char *generation = ctl_value_text(json_object_get(health, "generation"));
    char *configured = ctl_value_text(json_object_get(counts, "configured"));
    char *connected = ctl_value_text(json_object_get(counts, "connected"));
    char *in_step = ctl_value_text(json_object_get(counts, "in_step"));
    char uptime[64];

    format_uptime(json_object_get(health, "uptime_seconds"),
                  uptime, sizeof uptime);
    printf("mslbd %s: generation %s, up %s, bridges: %s configured, "
           "%s connected, %s in step\n", status, generation, uptime,
           configured, connected, in_step);

    /* Among the mslbd that share the database (docs/deployment.md). */
    const json_t *ctl = json_object_get(health, "controller");
    if (ctl) {
        char *name = ctl_value_text(json_object_get(ctl, "name"));
        char *role = ctl_value_text(json_object_get(ctl, "role"));
        char *master = ctl_value_text(json_object_get(ctl, "master"));
        char *gen = ctl_value_text(json_object_get(ctl, "role_generation"));

        printf("controller %s: %s (master %s, role generation %s)\n", name,
               role, master, gen);
        free(name);
        free(role);
        free(master);
        free(gen);
    }
    free(status);
    free(generation);
    free(configured);
    free(connected);
    free(in_step);
}

int
ctl_cmd_status(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const headers[] = { "NAME", "CONNECTED", "ROLE",
                                           "DPID", "OPENFLOW", "DESIRED",
                                           "INSTALLED", "FLOWS", "GROUPS" };
    static const char *const fields[] = {
        "name", "connected", "openflow_role", "datapath_id",
        "openflow_version", "desired_generation", "installed_generation",
        "flows", "groups",
    };
    json_t *health, *answer, *bridges, *br;
    struct cli_table *t;
    size_t i;
    int code;

    code = ctl_call(ctl, "GET", "/v1/health", NULL, &health, NULL);
    if (code) {
        return code;
    }
    code = ctl_call(ctl, "GET", "/v1/bridges", NULL, &answer, NULL);
    if (code) {
        json_decref(health);
        return code;
    }
    bridges = json_object_get(answer, "bridges");

    if (ctl->json) {
        /* Two answers, one document, each as the server sent it. */
        json_t *both = json_pack("{sOsO}", "health", health, "bridges",
                                 bridges ? bridges : json_null());
        ctl_print_json(both);
        json_decref(both);
    } else {
        print_health(health);
        putchar('\n');
        t = cli_table_create(9, headers);
        json_array_foreach (bridges, i, br) {
            for (size_t k = 0; k < sizeof fields / sizeof *fields; k++) {
                ctl_table_add_value(t, json_object_get(br, fields[k]));
            }
        }
        cli_table_print(t, stdout);
        cli_table_destroy(t);
    }
    json_decref(answer);
    json_decref(health);
    return CTL_EXIT_OK;
}

/* The sum of the backends' integer 'field's, or NULL if none has one. */
static json_t *
backends_sum(const json_t *backends, const char *field)
{
    json_int_t total = 0;
    bool any = false;
    const json_t *b;
    size_t i;

    json_array_foreach (backends, i, b) {
        const json_t *n = json_object_get(b, field);
        if (json_is_integer(n)) {
            total += json_integer_value(n);
            any = true;
        }
    }
    return any ? json_integer(total) : NULL;
}

static void
stats_add_service(struct cli_table *t, const json_t *service)
{
    const json_t *backends = json_object_get(service, "backends"), *b;
    json_t *sessions = json_incref(json_object_get(service, "sessions"));
    json_t *replies = backends_sum(backends, "reply_packets");
    size_t i;

    /* The service row's sessions and replies: the sums over its
     * backends, unless the server gives its own count. */
    if (!sessions) {
        sessions = backends_sum(backends, "sessions");
    }
    ctl_table_add_value(t, json_object_get(service, "name"));
    cli_table_add(t, "(all)");
    ctl_table_add_value(t, json_object_get(service, "packets"));
    ctl_table_add_value(t, json_object_get(service, "bytes"));
    ctl_table_add_value(t, replies);
    ctl_table_add_value(t, sessions);
    ctl_table_add_value(t, json_object_get(service, "active_sessions"));
    json_decref(sessions);
    json_decref(replies);
    json_array_foreach (backends, i, b) {
        ctl_table_add_value(t, json_object_get(service, "name"));
        ctl_table_add_value(t, json_object_get(b, "name"));
        ctl_table_add_value(t, json_object_get(b, "packets"));
        ctl_table_add_value(t, json_object_get(b, "bytes"));
        ctl_table_add_value(t, json_object_get(b, "reply_packets"));
        ctl_table_add_value(t, json_object_get(b, "sessions"));
        ctl_table_add_value(t, json_object_get(b, "active_sessions"));
    }
}

int
ctl_cmd_stats(struct ctl *ctl, char **args, size_t n_args)
{
    static const char *const headers[] = { "SERVICE", "BACKEND", "PACKETS",
                                           "BYTES", "REPLIES", "SESSIONS",
                                           "ACTIVE" };
    json_t *answer, *services, *service, *match = NULL;
    struct cli_table *t;
    size_t i;
    int code;

    code = ctl_call(ctl, "GET", "/v1/stats", NULL, &answer, NULL);
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
        ctl_print_json(match ? match : answer);
    } else {
        t = cli_table_create(7, headers);
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
