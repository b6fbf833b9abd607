/* mainloop: OVS's poll loop with a libuv loop inside it.
 *
 * OVS's IDL (and jsonrpc, unixctl...) is driven by xxx_run()/xxx_wait() and
 * poll_block(); mslbd's I/O is libuv.  The main loop is poll_block(): it
 * also waits on the libuv loop's backend fd and next timer, and each turn
 * runs libuv once without blocking (UV_RUN_NOWAIT), then every hook's run,
 * then every hook's wait.
 *
 * Signals: OVS's fatal-signal module (started by mainloop_create()) takes
 * SIGTERM, SIGINT, SIGHUP and SIGALRM only where they still have their
 * default action; libuv's uv_signal_start() replaces it.  So: create the
 * main loop first, then start the uv_signal handles, and the daemon's
 * SIGHUP/SIGTERM/SIGINT callbacks keep working (tests/unit/test_ovsdb.c). */
#ifndef MAINLOOP_H
#define MAINLOOP_H 1

#include <stdbool.h>
#include <uv.h>

struct mainloop;

/* One participant in OVS's poll loop, e.g. an IDL: 'run' does its work
 * (ovsdb_idl_run() and reading changes), 'wait' arranges the next wake-up
 * (ovsdb_idl_wait(), poll_immediate_wake()...).  Either may be NULL. */
struct mainloop_hook {
    void (*run)(void *aux);
    void (*wait)(void *aux);
    void *aux;
};

/* Creates a main loop around 'loop' (not owned).  Initializes OVS's
 * fatal-signal module: call it before starting any uv_signal handle and
 * before any thread exists. */
struct mainloop *mainloop_create(uv_loop_t *loop);
void mainloop_destroy(struct mainloop *);

/* Adds a hook, run in the order added. */
void mainloop_add_hook(struct mainloop *, const struct mainloop_hook *);

/* Runs until mainloop_stop(): returns after the turn that saw it.  A stop
 * is final: later mainloop_run()/mainloop_run_until() return at once.
 * A hook or libuv callback that leaves work for the next turn without an
 * fd or timer to wake it calls poll_immediate_wake() (OVS) or starts a
 * zero timer or an idle handle (libuv): both are honoured, since libuv's
 * next deadline is read after the hooks ran. */
void mainloop_run(struct mainloop *);

/* Asks mainloop_run() to return (from any callback: libuv or hook).  Also
 * stops the current uv_run(). */
void mainloop_stop(struct mainloop *);

bool mainloop_is_running(const struct mainloop *);

/* Runs the loop until 'done(aux)' or 'timeout_ms' passed; returns
 * done(aux).  For tests and start-up waits. */
bool mainloop_run_until(struct mainloop *, bool (*done)(void *aux),
                        void *aux, long long timeout_ms);

#endif /* mainloop.h */
