/* mainloop: OVS's poll loop with a libuv loop inside it (mainloop.h). */
#include <config.h>
#include "mainloop.h"

#include <poll.h>

#include "fatal-signal.h"
#include "openvswitch/poll-loop.h"
#include "timeval.h"
#include "util.h"

struct mainloop {
    uv_loop_t *loop;
    struct mainloop_hook *hooks;
    size_t n_hooks, allocated_hooks;
    bool stop;
    bool running;
};

struct mainloop *
mainloop_create(uv_loop_t *loop)
{
    struct mainloop *ml = xzalloc(sizeof *ml);

    /* Before libuv installs its signal handlers: OVS's leaves a signal
     * alone only if it has no handler yet (see mainloop.h). */
    fatal_signal_init();
    ml->loop = loop;
    return ml;
}

void
mainloop_destroy(struct mainloop *ml)
{
    if (ml) {
        free(ml->hooks);
        free(ml);
    }
}

void
mainloop_add_hook(struct mainloop *ml, const struct mainloop_hook *hook)
{
    if (ml->n_hooks >= ml->allocated_hooks) {
        ml->hooks = x2nrealloc(ml->hooks, &ml->allocated_hooks,
                               sizeof *ml->hooks);
    }
    ml->hooks[ml->n_hooks++] = *hook;
}

/* One turn: libuv's ready work, the hooks, then (unless 'done' says the
 * caller's condition already holds, or a stop was asked) sleep in
 * poll_block() until an OVS event, the libuv backend fd or libuv's next
 * timer.  Checking 'done' before sleeping matters: a hook's run may have
 * completed it (an IDL reply) without leaving anything to wake us. */
static void
mainloop_turn(struct mainloop *ml, bool (*done)(void *aux), void *aux)
{
    int timeout;

    uv_run(ml->loop, UV_RUN_NOWAIT);
    if (ml->stop) {
        return;
    }
    for (size_t i = 0; i < ml->n_hooks; i++) {
        if (ml->hooks[i].run) {
            ml->hooks[i].run(ml->hooks[i].aux);
        }
    }
    for (size_t i = 0; i < ml->n_hooks; i++) {
        if (ml->hooks[i].wait) {
            ml->hooks[i].wait(ml->hooks[i].aux);
        }
    }
    if (ml->stop || (done && done(aux))) {
        poll_immediate_wake();      /* The caller returns right away. */
    }
    /* The hooks took time, and may have started libuv work: ask libuv for
     * its next deadline now. */
    uv_update_time(ml->loop);
    poll_fd_wait(uv_backend_fd(ml->loop), POLLIN);
    timeout = uv_backend_timeout(ml->loop);
    if (timeout >= 0) {
        poll_timer_wait(timeout);
    }
    poll_block();
}

void
mainloop_run(struct mainloop *ml)
{
    ml->running = true;
    while (!ml->stop) {
        mainloop_turn(ml, NULL, NULL);
    }
    ml->running = false;
}

bool
mainloop_run_until(struct mainloop *ml, bool (*done)(void *aux), void *aux,
                   long long timeout_ms)
{
    long long deadline = time_msec() + timeout_ms;

    ml->running = true;
    while (!ml->stop && !done(aux) && time_msec() < deadline) {
        poll_timer_wait_until(deadline);
        mainloop_turn(ml, done, aux);
    }
    ml->running = false;
    return done(aux);
}

void
mainloop_stop(struct mainloop *ml)
{
    ml->stop = true;
    uv_stop(ml->loop);
}

bool
mainloop_is_running(const struct mainloop *ml)
{
    return ml->running;
}
