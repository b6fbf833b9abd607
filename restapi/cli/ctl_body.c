/* mslbctl's arguments read into JSON bodies: integers, --backend specs
 * and --file.  Only their form is checked; the values are the server's to
 * judge. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/xalloc.h"
#include "mslbctl.h"

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

bool
ctl_set_integer(json_t *obj, const char *key, const char *text)
{
    long long value;

    if (!parse_integer(text, &value)) {
        return false;
    }
    json_object_set_new(obj, key, json_integer(value));
    return true;
}

int
ctl_apply_sets(const struct ctl *ctl, json_t *body)
{
    for (size_t i = 0; i < ctl->n_sets; i++) {
        const char *set = ctl->sets[i], *eq = strchr(set, '=');
        json_t *value;
        char *key;

        if (!eq || eq == set) {
            return ctl_usage_error("--set %s: expected KEY=VALUE", set);
        }
        key = mslb_xasprintf("%.*s", (int) (eq - set), set);
        value = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        json_object_set_new(body, key, value ? value : json_string(eq + 1));
        free(key);
    }
    return CTL_EXIT_OK;
}

int
ctl_parse_backend_spec(const char *spec, json_t **backend)
{
    static const char *const keys[] = { "name", "ip", "port", "mac",
                                        "weight", "state", "host",
                                        "host_bridge" };
    char *copy = mslb_xasprintf("%s", spec), *save = NULL;
    json_t *b = json_object();
    int code = CTL_EXIT_OK;

    for (char *item = strtok_r(copy, ",", &save); item && !code;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        const char *key = item, *value;
        bool known = false;

        if (!eq) {
            code = ctl_usage_error("--backend %s: \"%s\" is not KEY=VALUE",
                                   spec, item);
            break;
        }
        *eq = '\0';
        value = eq + 1;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            known |= !strcmp(key, keys[i]);
        }
        if (!known) {
            code = ctl_usage_error("--backend %s: unknown key \"%s\" "
                                   "(expected name, ip, port, mac, weight, "
                                   "state, host or host_bridge)", spec, key);
        } else if (json_object_get(b, key)) {
            code = ctl_usage_error("--backend %s: \"%s\" given twice",
                                   spec, key);
        } else if (!strcmp(key, "port") || !strcmp(key, "weight")) {
            if (!ctl_set_integer(b, key, value)) {
                code = ctl_usage_error("--backend %s: %s \"%s\" is not an "
                                       "integer", spec, key, value);
            }
        } else {
            json_object_set_new(b, key, json_string(value));
        }
    }
    /* "mac" may be left to mslbd, which resolves it (docs/health.md). */
    for (size_t i = 0; !code && i < 2; i++) {
        static const char *const required[] = { "name", "ip" };
        if (!json_object_get(b, required[i])) {
            code = ctl_usage_error("--backend %s: \"%s\" is required",
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

int
ctl_read_json_file(const char *file, json_t **obj)
{
    bool is_stdin = !strcmp(file, "-");
    const char *label = is_stdin ? "stdin" : file;
    FILE *stream = is_stdin ? stdin : fopen(file, "r");
    json_error_t jerr;

    *obj = NULL;
    if (!stream) {
        return ctl_usage_error("cannot read %s: %s", file, strerror(errno));
    }
    *obj = json_loadf(stream, 0, &jerr);
    if (!is_stdin) {
        fclose(stream);
    }
    if (!*obj) {
        return ctl_usage_error("%s:%d:%d: %s", label, jerr.line, jerr.column,
                               jerr.text);
    }
    if (!json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        return ctl_usage_error("%s: expected a JSON object (one service)",
                               label);
    }
    return CTL_EXIT_OK;
}
