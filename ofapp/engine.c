/* The incremental processing engine: see engine.h. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

void
engine_init(struct engine *e)
{
    memset(e, 0, sizeof *e);
    e->force_recompute = true;  /* The first run builds everything. */
}

void
engine_node_init(struct engine_node *node, const char *name, void *data,
                 engine_run_func *run)
{
    memset(node, 0, sizeof *node);
    node->name = name;
    node->data = data;
    node->run = run;
}

void
engine_add_node(struct engine *e, struct engine_node *node)
{
    if (e->n_nodes >= ENGINE_MAX_NODES) {
        abort();
    }
    e->nodes[e->n_nodes++] = node;
}

void
engine_add_input(struct engine_node *node, struct engine_node *input,
                 engine_handler_func *handler)
{
    if (node->n_inputs >= ENGINE_MAX_INPUTS) {
        abort();
    }
    node->inputs[node->n_inputs++] = (struct engine_input) {
        input, handler
    };
}

void
engine_force_recompute(struct engine *e)
{
    e->force_recompute = true;
}

/* Brings one computed node up to date with its inputs. */
static bool
run_computed(struct engine *e, struct engine_node *node)
{
    bool any = false;

    if (e->force_recompute) {
        node->n_recompute++;
        node->run(node, node->data);
        return true;
    }
    for (size_t i = 0; i < node->n_inputs; i++) {
        const struct engine_input *in = &node->inputs[i];

        if (in->node->state != ENGINE_UPDATED) {
            continue;
        }
        any = true;
        if (!in->handler || !in->handler(node, node->data, in->node)) {
            node->n_recompute++;
            node->run(node, node->data);
            return true;
        }
    }
    if (any) {
        node->n_incremental++;
    } else {
        node->n_unchanged++;
    }
    return any;
}

bool
engine_run(struct engine *e)
{
    bool changed = false;

    for (size_t i = 0; i < e->n_nodes; i++) {
        struct engine_node *node = e->nodes[i];
        bool updated = node->n_inputs ? run_computed(e, node)
                                      : node->run(node, node->data);

        node->state = updated ? ENGINE_UPDATED : ENGINE_UNCHANGED;
        changed |= updated;
    }
    e->force_recompute = false;
    return changed;
}
