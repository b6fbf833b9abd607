/* libFuzzer target: a request body through everything mslbd does with it
 * before the model changes: JSON parsing, the JSON Schemas, and the whole
 * model validation (the body as a service, and as a whole model). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <jansson.h>
#include "jschema.h"
#include "mslb/model.h"

static struct jschema *schemas;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {
        "service.schema.json", "backend.schema.json",
        "backend-patch.schema.json", "bridge.schema.json",
        "model.schema.json",
    };
    struct model *m;
    json_error_t jerr;
    json_t *j;

    if (!schemas) {
        char *error = jschema_load_dir(MSLB_SCHEMA_DIR, &schemas);
        if (error) {
            abort();
        }
    }
    j = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        return 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *path = NULL;
        free(jschema_validate_path(schemas, names[i], j, &path));
        free(path);
    }
    /* As a whole model, and as the one service of a model. */
    free(model_from_json(j, &m));
    model_destroy(m);
    json_t *doc = json_pack("{s:[{s:s, s:s, s:s}], s:[O]}", "bridges",
                            "name", "br-lb", "mac", "0a:00:00:00:00:01",
                            "frontend_port", "front", "services", j);
    if (doc) {
        free(model_from_json(doc, &m));
        model_destroy(m);
        json_decref(doc);
    }
    json_decref(j);
    return 0;
}
