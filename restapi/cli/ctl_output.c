/* mslbctl's output: the server's JSON indented, or its values as table
 * cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/xalloc.h"
#include "cli_table.h"
#include "mslbctl.h"

void
ctl_print_json(const json_t *json)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER
                               | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (s) {
        puts(s);
        free(s);
    }
}

char *
ctl_value_text(const json_t *v)
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
            char *t = ctl_value_text(e);
            len += strlen(t) + 2;
            free(t);
        }
        s = mslb_xmalloc(len);
        s[0] = '\0';
        json_array_foreach (v, i, e) {
            char *t = ctl_value_text(e);
            if (i) {
                strcat(s, ", ");
            }
            strcat(s, t);
            free(t);
        }
        return s;
    }
    case JSON_OBJECT: {
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER
                                | JSON_REAL_PRECISION(15));
        return s ? s : mslb_xasprintf("?");
    }
    case JSON_NULL:
    default:
        return mslb_xasprintf("-");
    }
}

/* An empty cell would shift the columns of a script that splits on
 * blanks: it shows as "-", as absent values do. */
void
ctl_table_add_value(struct cli_table *t, const json_t *v)
{
    char *s = ctl_value_text(v);
    cli_table_add(t, "%s", *s ? s : "-");
    free(s);
}

/* The server fills defaults in what it returns, but the config rules
 * (docs/config.md) say what an absent field means, so show that. */
bool
ctl_backend_is_up(const json_t *backend)
{
    const json_t *state = json_object_get(backend, "state");
    const json_t *health = json_object_get(json_object_get(backend, "health"),
                                           "state");
    return (!state || (json_is_string(state)
                       && !strcmp(json_string_value(state), "up")))
           && (!health || (json_is_string(health)
                           && !strcmp(json_string_value(health), "up")));
}
