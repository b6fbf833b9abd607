/* mslbctl's backend commands: add, remove, drain, up, down, weight.  Each
 * is one write with a one-line summary (ctl_write()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/xalloc.h"
#include "mslbctl.h"

int
ctl_cmd_backend_add(struct ctl *ctl, char **args, size_t n_args)
{
    json_t *backend;
    char *path;
    int code;

    if (!ctl->name || !ctl->ip) {
        return ctl_usage_error("backend add: --name and --ip are required");
    }
    backend = json_object();
    json_object_set_new(backend, "name", json_string(ctl->name));
    json_object_set_new(backend, "ip", json_string(ctl->ip));
    if (ctl->port && !ctl_set_integer(backend, "port", ctl->port)) {
        json_decref(backend);
        return ctl_usage_error("--port \"%s\" is not an integer", ctl->port);
    }
    if (ctl->mac) {             /* Else mslbd resolves it (not in tun). */
        json_object_set_new(backend, "mac", json_string(ctl->mac));
    }
    if (ctl->weight && !ctl_set_integer(backend, "weight", ctl->weight)) {
        json_decref(backend);
        return ctl_usage_error("--weight \"%s\" is not an integer",
                               ctl->weight);
    }
    if (ctl->state) {
        json_object_set_new(backend, "state", json_string(ctl->state));
    }
    code = ctl_apply_sets(ctl, backend);
    if (code) {
        json_decref(backend);
        return code;
    }

    path = ctl_service_path(args[0], "/backends");
    code = ctl_write(ctl, "POST", path, backend,
                     "backend %s added to service %s", ctl->name, args[0]);
    free(path);
    json_decref(backend);
    return code;
}

int
ctl_cmd_backend_remove(struct ctl *ctl, char **args, size_t n_args)
{
    char *path = ctl_backend_path(args[0], args[1]);
    int code = ctl_write(ctl, "DELETE", path, NULL,
                         "backend %s removed from service %s",
                         args[1], args[0]);
    free(path);
    return code;
}

/* PATCHes backend args[1] of service args[0] with 'patch' (taken);
 * 'what' ends the summary: "backend B of service S set to WHAT". */
static int
patch_backend(struct ctl *ctl, char **args, json_t *patch, const char *what)
{
    char *path = ctl_backend_path(args[0], args[1]);
    int code = ctl_write(ctl, "PATCH", path, patch,
                         "backend %s of service %s set to %s",
                         args[1], args[0], what);
    free(path);
    json_decref(patch);
    return code;
}

int
ctl_cmd_backend_state(struct ctl *ctl, char **args, size_t n_args)
{
    /* The command's second word is the state: drain, up or down. */
    const char *state = ctl->command->name + strlen("backend ");

    return patch_backend(ctl, args, json_pack("{ss}", "state", state), state);
}

int
ctl_cmd_backend_weight(struct ctl *ctl, char **args, size_t n_args)
{
    json_t *patch = json_object();
    char *what;
    int code;

    if (!ctl_set_integer(patch, "weight", args[2])) {
        json_decref(patch);
        return ctl_usage_error("weight \"%s\" is not an integer", args[2]);
    }
    what = mslb_xasprintf("weight %s", args[2]);
    code = patch_backend(ctl, args, patch, what);
    free(what);
    return code;
}
