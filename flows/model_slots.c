/* A service's slot table as part of the model: computed from the table it
 * had, formatted for the database, parsed back.  See model.h and
 * docs/selection.md.  The allocation itself is flows/slots.c. */
#include "mslb/model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mslb/slots.h"
#include "mslb/xalloc.h"

void
model_slots_uninit(struct model_slots *sl)
{
    free(sl->owner);
    free(sl->moves);
    memset(sl, 0, sizeof *sl);
}

void
model_slots_clone(struct model_slots *dst, const struct model_slots *src)
{
    *dst = *src;
    dst->owner = src->n_slots
                 ? mslb_xmemdup(src->owner, src->n_slots * sizeof *src->owner)
                 : NULL;
    dst->moves = src->n_moves
                 ? mslb_xmemdup(src->moves, src->n_moves * sizeof *src->moves)
                 : NULL;
}

bool
model_slots_equal(const struct model_slots *a, const struct model_slots *b)
{
    return a->n_slots == b->n_slots && a->n_moves == b->n_moves
           && (!a->n_slots
               || !memcmp(a->owner, b->owner, a->n_slots * sizeof *a->owner))
           && (!a->n_moves
               || !memcmp(a->moves, b->moves, a->n_moves * sizeof *a->moves));
}

int64_t
model_slots_next_expiry(const struct model_slots *sl)
{
    int64_t next = INT64_MAX;

    for (size_t i = 0; i < sl->n_moves; i++) {
        if (sl->moves[i].until != MODEL_MOVE_WHILE_DRAINING
            && sl->moves[i].until < next) {
            next = sl->moves[i].until;
        }
    }
    return next;
}

const struct model_backend *
model_find_backend_by_key(const struct model_service *svc, uint32_t key)
{
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].key == key) {
            return &svc->backends[i];
        }
    }
    return NULL;
}

/* Sessions to 'be' are kept: it is up or draining. */
static bool
keeps_sessions(const struct model_backend *be)
{
    return be && be->state != MODEL_BACKEND_DOWN;
}

/* Moves matter where the first stage keeps no state of its own: the DSR
 * modes without source-IP persistence (which learns every client). */
static bool
records_moves(const struct model_service *svc)
{
    return model_mode_is_dsr(svc->mode) && !svc->persistence;
}

/* The move of slot 's' in 'prev' (whose table has 'n' slots; a table that
 * grew by replication carries slot s % n's moves to s), or NULL. */
static const struct model_slot_move *
find_move(const struct model_slots *prev, uint32_t s)
{
    size_t lo = 0, hi = prev->n_moves;

    if (!prev->n_slots) {
        return NULL;
    }
    s %= prev->n_slots;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (prev->moves[mid].slot < s) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < prev->n_moves && prev->moves[lo].slot == s
           ? &prev->moves[lo] : NULL;
}

/* How long a move away from 'from' lasts, starting 'now'. */
static int64_t
move_until(const struct model_service *svc, const struct model_backend *from,
           int64_t now)
{
    if (from->state == MODEL_BACKEND_DRAIN && svc->proto == IPPROTO_TCP) {
        /* A TCP connection is told apart from a new one by its SYN, so
         * the drained backend keeps its connections however long they
         * last. */
        return MODEL_MOVE_WHILE_DRAINING;
    }
    return now + svc->idle_timeout;
}

/* The table, halved while its two halves are the same and it is bigger
 * than 'want': fewer slots cost fewer flows and datapath flows. */
static uint32_t
shrink(const uint32_t *owner, uint32_t n, uint32_t want)
{
    while (n > want && n > SLOTS_MIN
           && !memcmp(owner, owner + n / 2, n / 2 * sizeof *owner)) {
        n /= 2;
    }
    return n;
}

void
model_slots_compute(const struct model_service *svc,
                    const struct model_slots *prev, int64_t now,
                    struct model_slots *out)
{
    static const struct model_slots none;
    struct slots_backend *up = mslb_xzalloc((svc->n_backends + 1)
                                            * sizeof *up);
    uint32_t n = 0, want = 0, *table, *old;
    size_t n_up = 0;

    if (!prev) {
        prev = &none;
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].state == MODEL_BACKEND_UP) {
            up[n_up].id = svc->backends[i].key;
            up[n_up].weight = svc->backends[i].weight;
            n_up++;
        }
    }
    if (n_up) {
        want = slots_size(up, n_up);
    }
    n = prev->n_slots;
    if (!n_up && !records_moves(svc)) {
        n = 0;
    } else if (n < want) {
        n = want;
    }

    memset(out, 0, sizeof *out);
    if (!n) {
        free(up);
        return;
    }
    table = mslb_xzalloc(n * sizeof *table);
    old = mslb_xzalloc(n * sizeof *old);
    for (uint32_t s = 0; s < n; s++) {
        uint32_t o = prev->n_slots ? prev->owner[s % prev->n_slots] : 0;
        old[s] = o;
        table[s] = o ? o : SLOTS_NONE;
    }
    if (!slots_balanced(table, n, up, n_up)) {   /* False when no backend. */
        slots_assign(table, n, up, n_up);
    }
    for (uint32_t s = 0; s < n; s++) {
        if (table[s] == SLOTS_NONE) {
            table[s] = 0;
        }
    }

    /* Moves: a slot keeps the move it had while that lasts and its
     * backend keeps sessions; a slot that changes hands now starts one
     * from its old backend.  Never a move to the backend itself. */
    struct model_slot_move *moves = NULL;
    size_t n_moves = 0, allocated = 0;
    for (uint32_t s = 0; records_moves(svc) && s < n; s++) {
        const struct model_slot_move *pm = find_move(prev, s);
        const struct model_backend *from = NULL;
        int64_t until = 0;

        if (pm) {
            const struct model_backend *f
                = model_find_backend_by_key(svc, pm->from);
            bool live = pm->until == MODEL_MOVE_WHILE_DRAINING
                        ? f && f->state == MODEL_BACKEND_DRAIN
                        : pm->until > now;
            if (keeps_sessions(f) && (live || old[s] != table[s])) {
                from = f;
                until = pm->until;
                if (old[s] != table[s]
                    || (until == MODEL_MOVE_WHILE_DRAINING
                        && f->state != MODEL_BACKEND_DRAIN)) {
                    until = move_until(svc, f, now);
                }
            }
        }
        if (!from && old[s] != table[s]) {
            const struct model_backend *f
                = model_find_backend_by_key(svc, old[s]);
            if (keeps_sessions(f)) {
                from = f;
                until = move_until(svc, f, now);
            }
        }
        if (!from || from->key == table[s]) {
            continue;
        }
        if (n_moves == allocated) {
            allocated = allocated ? 2 * allocated : 16;
            moves = mslb_xrealloc(moves, allocated * sizeof *moves);
        }
        moves[n_moves++] = (struct model_slot_move) {
            .slot = s, .from = from->key, .until = until,
        };
    }

    if (!n_moves) {
        n = shrink(table, n, want ? want : SLOTS_MIN);
    }
    out->n_slots = n;
    out->owner = mslb_xrealloc(table, n * sizeof *table);
    out->moves = moves;
    out->n_moves = n_moves;
    free(old);
    free(up);
}

static bool
key_in(uint32_t key, const uint32_t *keys, size_t n)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (keys[mid] < key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && keys[lo] == key;
}

int
model_key_compare(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *) a_, b = *(const uint32_t *) b_;
    return a < b ? -1 : a > b;
}

void
model_slots_effective(const struct model_service *svc,
                      const uint32_t *failed, size_t n_failed,
                      struct model_slots *out)
{
    const struct model_slots *sl = &svc->slots;
    struct slots_backend *usable;
    struct model_slot_move *moves;
    size_t n_usable = 0, n_moves = 0, n_kept = 0, m = 0;
    bool keep = records_moves(svc) && svc->proto == IPPROTO_TCP;
    uint32_t *kept;
    uint32_t *table;

    if (!n_failed || !sl->n_slots) {
        model_slots_clone(out, sl);
        return;
    }
    usable = mslb_xzalloc((svc->n_backends + 1) * sizeof *usable);
    kept = mslb_xzalloc((n_failed + 1) * sizeof *kept);
    for (size_t i = 0; i < svc->n_backends; i++) {
        const struct model_backend *be = &svc->backends[i];
        if (!key_in(be->key, failed, n_failed)) {
            if (be->state == MODEL_BACKEND_UP) {
                usable[n_usable].id = be->key;
                usable[n_usable].weight = be->weight;
                n_usable++;
            }
        } else if (keep && !be->monitor.reset_sessions) {
            kept[n_kept++] = be->key;   /* Its sessions stay. */
        }
    }
    qsort(kept, n_kept, sizeof *kept, model_key_compare);
    table = mslb_xzalloc(sl->n_slots * sizeof *table);
    for (uint32_t s = 0; s < sl->n_slots; s++) {
        uint32_t o = sl->owner[s];
        table[s] = o && !key_in(o, failed, n_failed) ? o : SLOTS_NONE;
    }
    /* n_usable <= n_slots: the stored table was sized for more. */
    slots_assign(table, sl->n_slots, usable, n_usable);

    /* Moves: the stored ones, but none to the slot's new owner; then a
     * move from each failed backend for the slots it lost. */
    moves = mslb_xzalloc((sl->n_slots + 1) * sizeof *moves);
    for (uint32_t s = 0; s < sl->n_slots; s++) {
        uint32_t now = table[s] == SLOTS_NONE ? 0 : table[s];
        uint32_t was = sl->owner[s];
        const struct model_slot_move *sm = NULL;

        while (m < sl->n_moves && sl->moves[m].slot < s) {
            m++;
        }
        if (m < sl->n_moves && sl->moves[m].slot == s) {
            sm = &sl->moves[m];
        }
        table[s] = now;
        if (sm && sm->from != now) {
            moves[n_moves++] = *sm;
        } else if (!sm && keep && was && was != now
                   && key_in(was, kept, n_kept)) {
            moves[n_moves++] = (struct model_slot_move) {
                .slot = s, .from = was, .until = MODEL_MOVE_WHILE_DRAINING,
            };
        }
    }
    out->n_slots = sl->n_slots;
    out->owner = table;
    out->moves = n_moves ? moves : NULL;
    out->n_moves = n_moves;
    if (!n_moves) {
        free(moves);
    }
    free(usable);
    free(kept);
}

void
model_slots_add_moves(struct model_slots *sl,
                      const struct model_slot_move *m, size_t n)
{
    struct model_slot_move *out;
    size_t i = 0, k = 0, n_out = 0;

    if (!n) {
        return;
    }
    out = mslb_xzalloc((sl->n_moves + n) * sizeof *out);
    while (i < sl->n_moves || k < n) {
        if (k == n || (i < sl->n_moves && sl->moves[i].slot <= m[k].slot)) {
            if (k < n && sl->moves[i].slot == m[k].slot) {
                k++;                    /* The table's own move wins. */
            }
            out[n_out++] = sl->moves[i++];
        } else {
            if (m[k].slot < sl->n_slots
                && sl->owner[m[k].slot] != m[k].from) {
                out[n_out++] = m[k];
            }
            k++;
        }
    }
    free(sl->moves);
    sl->moves = n_out ? out : NULL;
    sl->n_moves = n_out;
    if (!n_out) {
        free(out);
    }
}

/* ---- Text form: "1/N/OWNERS/MOVES".
 *
 * OWNERS: the owners in bit-reversed slot order (the order slots.c hands
 * them out in, so that a backend's slots are few runs), as runs
 * "KEY*COUNT" (hex key, decimal count) separated by ".";
 * MOVES: "SLOT:FROM:UNTIL" separated by ".", sorted by slot. */

static uint32_t
bitrev(uint32_t x, uint32_t n)
{
    uint32_t r = 0;

    for (uint32_t bit = 1; bit < n; bit <<= 1) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

static void
put(char **buf, size_t *len, size_t *size, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 1 > *size) {
        *size = 2 * (*size + n + 1);
        *buf = mslb_xrealloc(*buf, *size);
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

char *
model_slots_format(const struct model_slots *sl)
{
    size_t len = 0, size = 64;
    char *buf = mslb_xzalloc(size), item[64];

    snprintf(item, sizeof item, "1/%"PRIu32"/", sl->n_slots);
    put(&buf, &len, &size, item);
    for (uint32_t i = 0; i < sl->n_slots; ) {
        uint32_t key = sl->owner[bitrev(i, sl->n_slots)], run = 0;

        while (i < sl->n_slots && sl->owner[bitrev(i, sl->n_slots)] == key) {
            run++;
            i++;
        }
        snprintf(item, sizeof item, "%s%"PRIx32"*%"PRIu32,
                 len && buf[len - 1] != '/' ? "." : "", key, run);
        put(&buf, &len, &size, item);
    }
    put(&buf, &len, &size, "/");
    for (size_t i = 0; i < sl->n_moves; i++) {
        const struct model_slot_move *m = &sl->moves[i];
        snprintf(item, sizeof item, "%s%"PRIu32":%"PRIx32":%"PRId64,
                 i ? "." : "", m->slot, m->from, m->until);
        put(&buf, &len, &size, item);
    }
    return buf;
}

bool
model_slots_parse(const char *text, struct model_slots *out)
{
    const char *p = text;
    unsigned long long n;
    char *end;

    memset(out, 0, sizeof *out);
    if (strncmp(p, "1/", 2)) {
        return false;
    }
    p += 2;
    n = strtoull(p, &end, 10);
    if (end == p || *end != '/' || (n & (n - 1)) || n > SLOTS_MAX) {
        return false;
    }
    p = end + 1;
    out->n_slots = n;
    out->owner = n ? mslb_xzalloc(n * sizeof *out->owner) : NULL;
    for (uint32_t i = 0; i < n; ) {
        unsigned long long key, run;

        if (i && *p++ != '.') {
            goto error;
        }
        key = strtoull(p, &end, 16);
        if (end == p || *end != '*' || key > UINT32_MAX) {
            goto error;
        }
        p = end + 1;
        run = strtoull(p, &end, 10);
        if (end == p || !run || run > n - i) {
            goto error;
        }
        p = end;
        for (; run; run--, i++) {
            out->owner[bitrev(i, n)] = key;
        }
    }
    if (*p++ != '/') {
        goto error;
    }
    while (*p) {
        unsigned long long slot, from;
        long long until;

        if (out->n_moves && *p++ != '.') {
            goto error;
        }
        slot = strtoull(p, &end, 10);
        if (end == p || *end != ':' || slot >= n
            || (out->n_moves
                && slot <= out->moves[out->n_moves - 1].slot)) {
            goto error;
        }
        p = end + 1;
        from = strtoull(p, &end, 16);
        if (end == p || *end != ':' || !from || from > UINT32_MAX) {
            goto error;
        }
        p = end + 1;
        until = strtoll(p, &end, 10);
        if (end == p || until < 0) {
            goto error;
        }
        p = end;
        out->moves = mslb_xrealloc(out->moves, (out->n_moves + 1)
                                               * sizeof *out->moves);
        out->moves[out->n_moves++] = (struct model_slot_move) {
            .slot = slot, .from = from, .until = until,
        };
    }
    return true;

error:
    model_slots_uninit(out);
    return false;
}
