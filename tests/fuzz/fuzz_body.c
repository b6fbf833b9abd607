/* libFuzzer target: a request body through everything mslbd does with it
 * before the model changes: JSON parsing and the model's validation, the
 * body as a service, a backend of a service, a bridge, and a whole model. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "mslb/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct model *base;

static const struct model_bridge *
find_bridge(const void *m, const char *name)
{
    return model_find_bridge(m, name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_lookup lk;
    struct model_service *svc;
    struct model_bridge *br;
    struct model *m;
    json_error_t jerr;
    json_t *j;

    if (!base) {
        json_t *doc = json_pack(
            "{s:[{s:s, s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}], s:[]}",
            "bridges", "name", "br-lb", "mac", "0a:00:00:00:00:01",
            "frontend_port", "front", "tunnel_ports", "vxlan", "vx",
            "name", "br-host", "role", "final", "tunnel_ports", "vxlan",
            "vx1", "services");
        if (model_from_json(doc, &base)) {
            abort();
        }
        json_decref(doc);
    }
    lk = (struct model_lookup) { find_bridge, base };
    j = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        return 0;
    }
    /* As a service, a bridge, and a whole model. */
    free(model_service_from_json(j, "", &lk, &svc));
    model_service_destroy(svc);
    free(model_bridge_from_json(j, "", &br));
    model_bridge_destroy(br);
    free(model_from_json(j, &m));
    model_destroy(m);
    /* As the backend of a service, the way POST .../backends builds it. */
    json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:s, s:[s], s:[O]}",
                            "name", "web", "vip", "198.18.0.100",
                            "protocol", "tcp", "port", 80, "mode", "dr",
                            "bridges", "br-lb", "backends", j);
    if (doc) {
        free(model_service_from_json(doc, "", &lk, &svc));
        model_service_destroy(svc);
        json_decref(doc);
    }
    json_decref(j);
    return 0;
}
