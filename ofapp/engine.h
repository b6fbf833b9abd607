/* A small incremental processing engine (the idea of OVN's inc-proc-eng).
 *
 * Nodes form a DAG.  An input node has no inputs: its 'run' only says
 * whether it changed since the last run (its owner tracks what changed).  A
 * computed node has inputs, each with an optional change handler.  When
 * some inputs changed, engine_run() calls the handlers of those inputs; a
 * handler returns true if it brought the node up to date incrementally, or
 * false to ask for a full recompute ('run').  An input without a handler
 * always causes a recompute.  engine_run() visits nodes in the order they
 * were added, which must be a topological order.
 *
 * The engine keeps no data of its own: each node's data is its owner's.
 * Pure: no I/O, no clock. */
#ifndef MSLB_ENGINE_H
#define MSLB_ENGINE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_MAX_INPUTS 8
#define ENGINE_MAX_NODES 16

enum engine_state {
    ENGINE_UNCHANGED,           /* Nothing new since the last run. */
    ENGINE_UPDATED,             /* Changed (by a handler or a recompute). */
};

struct engine_node;

/* Recompute (computed node) or "did you change?" (input node): returns
 * true if the node's data changed. */
typedef bool engine_run_func(struct engine_node *, void *data);
/* Brings 'node' up to date with its changed 'input'; false: recompute. */
typedef bool engine_handler_func(struct engine_node *node, void *data,
                                 struct engine_node *input);

struct engine_input {
    struct engine_node *node;
    engine_handler_func *handler;   /* NULL: any change recomputes. */
};

struct engine_node {
    const char *name;
    void *data;
    engine_run_func *run;
    struct engine_input inputs[ENGINE_MAX_INPUTS];
    size_t n_inputs;
    enum engine_state state;
    /* Statistics. */
    uint64_t n_recompute, n_incremental, n_unchanged;
};

struct engine {
    struct engine_node *nodes[ENGINE_MAX_NODES];
    size_t n_nodes;
    bool force_recompute;       /* Next run recomputes everything. */
};

void engine_init(struct engine *);
void engine_node_init(struct engine_node *, const char *name, void *data,
                      engine_run_func *);
void engine_add_node(struct engine *, struct engine_node *);
void engine_add_input(struct engine_node *, struct engine_node *input,
                      engine_handler_func *);

/* Runs every node once; returns true if any node changed. */
bool engine_run(struct engine *);
/* The next engine_run() recomputes every computed node. */
void engine_force_recompute(struct engine *);

#endif /* engine.h */
