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
    if (!ctl->file) {
        return ctl_usage_error("bridge put needs --file FILE");
    }
    return ctl_put_file(ctl, "bridge", bridge_path);
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
