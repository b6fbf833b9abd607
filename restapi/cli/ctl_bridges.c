/* mslbctl's bridge commands: show, put (create or replace from a JSON
 * file) and delete, over /v1/bridges (docs/api.md); `status` lists them. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "cli_http.h"
#include "cli_table.h"
#include "mslb/xalloc.h"
#include "mslbctl.h"

static char *
bridge_path(const char *bridge)
{
    char *name = cli_http_escape(bridge);
    char *path = mslb_xasprintf("/v1/bridges/%s", name);
    free(name);
    return path;
}

int
ctl_cmd_bridge_show(struct ctl *ctl, char **args, size_t n_args)
{
    char *path = bridge_path(args[0]);
    struct cli_table *t;
    json_t *bridge, *value;
    const char *key;
    int code;

    code = ctl_get(ctl, path, &bridge);
    free(path);
    if (code || !bridge) {
        return code;
    }
    /* Every field the server gives, in its order. */
    t = cli_table_create(2, NULL);
    json_object_foreach (bridge, key, value) {
        cli_table_add(t, "%s:", key);
        ctl_table_add_value(t, value);
    }
    cli_table_print(t, stdout);
    cli_table_destroy(t);
    json_decref(bridge);
    return CTL_EXIT_OK;
}

int
ctl_cmd_bridge_put(struct ctl *ctl, char **args, size_t n_args)
{
    json_t *bridge, *answer;
    const json_t *name;
    long status = 0;
    char *path, *what;
    int code;

    if (!ctl->file) {
        return ctl_usage_error("bridge put needs --file FILE");
    }
    code = ctl_read_json_file(ctl->file, &bridge);
    if (code) {
        return code;
    }
    name = json_object_get(bridge, "name");
    if (!json_is_string(name) || !json_string_length(name)) {
        json_decref(bridge);
        return ctl_usage_error("%s: the bridge has no \"name\"", ctl->file);
    }
    path = bridge_path(json_string_value(name));
    code = ctl_call(ctl, "PUT", path, bridge, &answer, &status);
    free(path);
    if (!code) {
        what = mslb_xasprintf("bridge %s %s", json_string_value(name),
                              status == 201 ? "created" : "replaced");
        ctl_print_write_result(ctl, answer, what);
        free(what);
        json_decref(answer);
    }
    json_decref(bridge);
    return code;
}

int
ctl_cmd_bridge_delete(struct ctl *ctl, char **args, size_t n_args)
{
    char *path = bridge_path(args[0]);
    int code = ctl_write(ctl, "DELETE", path, NULL, "bridge %s deleted",
                         args[0]);
    free(path);
    return code;
}
