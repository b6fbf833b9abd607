/* Slot tables: see slots.h. */
#include "mslb/slots.h"

#include <stdlib.h>
#include <string.h>

#include "mslb/xalloc.h"

/* No libopenvswitch here: the model (flows/model_slots.c) uses this. */
#ifndef MIN
#define MIN(X, Y) ((X) < (Y) ? (X) : (Y))
#endif
#ifndef MAX
#define MAX(X, Y) ((X) > (Y) ? (X) : (Y))
#endif
#define xmalloc mslb_xmalloc

static void *
xcalloc(size_t n, size_t size)
{
    return mslb_xzalloc(n * size);
}

static unsigned int
log2_exact(uint32_t m)
{
    unsigned int k = 0;

    while ((1u << k) < m) {
        k++;
    }
    return k;
}

/* 'x' with its low 'bits' bits in reverse order ('bits' >= 1). */
static uint32_t
rev(uint32_t x, unsigned int bits)
{
    /* Swap halves of ever smaller fields: the whole word reversed, then
     * its top 'bits' bits brought down. */
    x = ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1);
    x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2);
    x = ((x >> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
    x = ((x >> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
    x = (x >> 16) | (x << 16);
    return bits ? x >> (32 - bits) : 0;
}

uint32_t
slots_size(const struct slots_backend *b, size_t n)
{
    uint64_t total = 0, wmin = UINT32_MAX, need;
    uint32_t m = SLOTS_MIN;

    for (size_t i = 0; i < n; i++) {
        total += b[i].weight;
        wmin = MIN(wmin, b[i].weight);
    }
    need = n ? MAX(64 * total / wmin, n) : 0;
    while (m < need && m < SLOTS_MAX) {
        m *= 2;
    }
    return m;
}

void
slots_grow(uint32_t *table, uint32_t m, uint32_t new_m)
{
    for (uint32_t s = m; s < new_m; s++) {
        table[s] = table[s % m];
    }
}

/* ---- Quotas. ---- */

struct quota {
    size_t index;               /* Into the caller's backends. */
    uint32_t id;
    uint32_t floor;
    int64_t remainder;          /* Of m * weight / total, over total; -1
                                 * when the floor was raised to 1. */
    bool holds_more;            /* Could take a ceiling and holds more than
                                 * its floor now. */
};

/* Who gets one slot more than its floor first: a backend whose share is
 * not whole and that already holds it (no slot moves), then the largest
 * remainder, then the id.  A whole share sorts after every other, so that
 * it never gets a ceiling (there are never more ceilings to give than
 * shares that are not whole). */
static int
compare_extra(const void *a_, const void *b_)
{
    const struct quota *a = a_, *b = b_;

    if (a->holds_more != b->holds_more) {
        return a->holds_more ? -1 : 1;
    }
    if (a->remainder != b->remainder) {
        return a->remainder > b->remainder ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Quotas summing to 'm', each the floor or the ceiling of its exact share
 * (at least 1), the ceilings going where they move nothing. */
static void
quotas(const struct slots_backend *b, size_t n, uint32_t m,
       const uint32_t *cur, uint32_t *quota)
{
    struct quota *q = xcalloc(n, sizeof *q);
    uint64_t total = 0;
    int64_t rest = m;

    for (size_t i = 0; i < n; i++) {
        total += b[i].weight;
    }
    for (size_t i = 0; i < n; i++) {
        /* In integers: the same on every machine, and exact. */
        uint64_t num = (uint64_t) m * b[i].weight;

        q[i].index = i;
        q[i].id = b[i].id;
        q[i].floor = num / total;
        q[i].remainder = num % total;
        if (!q[i].floor) {
            q[i].floor = 1;
            q[i].remainder = -1;
        }
        q[i].holds_more = q[i].remainder > 0 && cur[i] > q[i].floor;
        rest -= q[i].floor;
    }
    qsort(q, n, sizeof *q, compare_extra);
    for (size_t i = 0; rest > 0; i = (i + 1) % n) {
        q[i].floor++;
        rest--;
    }
    /* Too many minimum slots: take from the end of the order. */
    for (size_t i = n; rest < 0; ) {
        i = i ? i - 1 : n - 1;
        if (q[i].floor > 1) {
            q[i].floor--;
            rest++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        quota[q[i].index] = q[i].floor;
    }
    free(q);
}

/* ---- Assignment. ---- */

struct by_id {
    uint32_t id;
    size_t index;
};

static int
compare_by_id(const void *a_, const void *b_)
{
    const struct by_id *a = a_, *b = b_;

    return a->id < b->id ? -1 : a->id > b->id;
}

/* The index of backend 'id' in 'sorted' ('n' of them), or SIZE_MAX. */
static size_t
find(const struct by_id *sorted, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && sorted[lo].id == id ? sorted[lo].index : SIZE_MAX;
}

struct need {
    size_t index;
    uint32_t deficit;
    uint32_t id;
};

/* The biggest deficit first: its slots come out as one long run. */
static int
compare_need(const void *a_, const void *b_)
{
    const struct need *a = a_, *b = b_;

    if (a->deficit != b->deficit) {
        return a->deficit > b->deficit ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

/* An aligned block of slots in bit-reversed order: positions [start,
 * start + size), size a power of two, start a multiple of it. */
struct block {
    uint32_t start, size;
};

struct blocks {
    struct block *b;
    size_t n, allocated;
};

static void
blocks_push(struct blocks *bl, uint32_t start, uint32_t size)
{
    if (bl->n >= bl->allocated) {
        bl->allocated = bl->allocated ? 2 * bl->allocated : 16;
        bl->b = mslb_xrealloc(bl->b, bl->allocated * sizeof *bl->b);
    }
    bl->b[bl->n++] = (struct block) { start, size };
}

/* The maximal aligned blocks of 'a' (m positions) that hold 'id' only,
 * added to 'bl'. */
static void
blocks_of(const uint32_t *a, uint32_t start, uint32_t size, uint32_t id,
          struct blocks *bl)
{
    bool all = true, none = true;

    for (uint32_t r = start; r < start + size; r++) {
        all = all && a[r] == id;
        none = none && a[r] != id;
    }
    if (all) {
        blocks_push(bl, start, size);
    } else if (!none) {
        blocks_of(a, start, size / 2, id, bl);
        blocks_of(a, start + size / 2, size / 2, id, bl);
    }
}

/* A block of a backend's slots, for giving some back. */
struct owned {
    size_t index;               /* Into the caller's backends. */
    struct block blk;
};

/* A backend's blocks, the smallest first. */
static int
compare_owned(const void *a_, const void *b_)
{
    const struct owned *a = a_, *b = b_;

    if (a->index != b->index) {
        return a->index < b->index ? -1 : 1;
    }
    if (a->blk.size != b->blk.size) {
        return a->blk.size < b->blk.size ? -1 : 1;
    }
    return a->blk.start < b->blk.start ? -1 : a->blk.start > b->blk.start;
}

#define MIXED (SLOTS_NONE - 1)

/* The maximal aligned blocks of 'a' (m positions) held by one backend
 * each, for the backends 'over' marks, in one pass over the table (not
 * one per backend: a change in place may leave hundreds of backends one
 * slot over).  Returns them sorted by backend, then the smallest first;
 * their number in '*n_owned'. */
static struct owned *
blocks_over(const uint32_t *a, uint32_t m, const struct by_id *sorted,
            size_t n, const bool *over, size_t *n_owned)
{
    unsigned int k = log2_exact(m);
    uint32_t *node = xmalloc(2 * m * sizeof *node);
    uint32_t *stack = xmalloc((2 * k + 2) * sizeof *stack);
    struct owned *o = NULL;
    size_t n_stack = 0, allocated = 0;

    /* A heap over positions: node i holds its positions' backend when
     * they all have the same, else MIXED. */
    memcpy(node + m, a, m * sizeof *a);
    for (uint32_t i = m; i-- > 1; ) {
        node[i] = node[2 * i] == node[2 * i + 1] ? node[2 * i] : MIXED;
    }
    *n_owned = 0;
    stack[n_stack++] = 1;
    while (n_stack) {
        uint32_t i = stack[--n_stack];
        unsigned int d = log2_exact(i + 1) - 1;    /* floor(log2 i) */

        if (node[i] == MIXED) {
            stack[n_stack++] = 2 * i + 1;
            stack[n_stack++] = 2 * i;
        } else if (node[i] != SLOTS_NONE) {
            size_t index = find(sorted, n, node[i]);

            if (index != SIZE_MAX && over[index]) {
                uint32_t size = m >> d;

                if (*n_owned >= allocated) {
                    o = x2nrealloc(o, &allocated, sizeof *o);
                }
                o[(*n_owned)++] = (struct owned) {
                    index, { (i - (1u << d)) * size, size },
                };
            }
        }
    }
    qsort(o, *n_owned, sizeof *o, compare_owned);
    free(node);
    free(stack);
    return o;
}

/* Frees 'y' positions of block [start, start + size) (y <= size), from its
 * top, in aligned halves, so that what stays is few blocks. */
static void
release(uint32_t *a, uint32_t start, uint32_t size, uint32_t y)
{
    while (y) {
        uint32_t half = size / 2;

        if (y == size) {
            for (uint32_t r = start; r < start + size; r++) {
                a[r] = SLOTS_NONE;
            }
            return;
        }
        if (y >= half) {
            for (uint32_t r = start + half; r < start + size; r++) {
                a[r] = SLOTS_NONE;
            }
            y -= half;
        } else {
            start += half;
        }
        size = half;
    }
}

/* Takes 'want' free positions for 'id' from the free blocks 'fb' (buddy
 * allocation: exact fits first, then the smallest bigger block split, then
 * the biggest smaller one whole). */
static void
take(uint32_t *a, struct blocks *fb, uint32_t id, uint32_t want)
{
    while (want) {
        uint32_t p = 1;
        size_t best = SIZE_MAX;

        while (p * 2 <= want) {
            p *= 2;
        }
        for (size_t i = 0; i < fb->n; i++) {
            const struct block *c = &fb->b[i];
            if (best == SIZE_MAX) {
                best = i;
                continue;
            }
            const struct block *o = &fb->b[best];
            bool c_fits = c->size >= p, o_fits = o->size >= p;
            if (c_fits != o_fits ? c_fits
                : c_fits ? (c->size < o->size
                            || (c->size == o->size && c->start < o->start))
                : (c->size > o->size
                   || (c->size == o->size && c->start < o->start))) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            return;                 /* Cannot happen: free == deficits. */
        }
        struct block blk = fb->b[best];
        fb->b[best] = fb->b[--fb->n];
        uint32_t got = MIN(p, blk.size);
        for (uint32_t r = blk.start; r < blk.start + got; r++) {
            a[r] = id;
        }
        /* The rest of a split block: its upper buddies. */
        for (uint32_t sz = got; sz < blk.size; sz *= 2) {
            blocks_push(fb, blk.start + sz, sz);
        }
        want -= got;
    }
}

size_t
slots_assign(uint32_t *table, uint32_t m, const struct slots_backend *b,
             size_t n)
{
    unsigned int k = log2_exact(m);
    struct by_id *sorted = xcalloc(MAX(n, 1), sizeof *sorted);
    uint32_t *a = xmalloc(m * sizeof *a);
    uint32_t *cur = xcalloc(MAX(n, 1), sizeof *cur);
    uint32_t *quota = xcalloc(MAX(n, 1), sizeof *quota);
    struct need *needs = xcalloc(MAX(n, 1), sizeof *needs);
    bool *over = xcalloc(MAX(n, 1), sizeof *over);
    struct blocks bl = { NULL, 0, 0 };
    struct owned *owned;
    size_t changed = 0, n_owned;

    for (size_t i = 0; i < n; i++) {
        sorted[i].id = b[i].id;
        sorted[i].index = i;
    }
    qsort(sorted, n, sizeof *sorted, compare_by_id);

    /* Work in bit-reversed order, where one masked match is one aligned
     * block.  Slots of backends that are gone are free. */
    for (uint32_t r = 0; r < m; r++) {
        uint32_t id = table[rev(r, k)];
        size_t i = id == SLOTS_NONE ? SIZE_MAX : find(sorted, n, id);

        a[r] = i == SIZE_MAX ? SLOTS_NONE : id;
        if (i != SIZE_MAX) {
            cur[i]++;
        }
    }
    if (n) {
        quotas(b, n, m, cur, quota);
    }

    /* A backend over its quota gives back its smallest blocks first, then
     * the top of the next one: what stays is few blocks. */
    for (size_t i = 0; i < n; i++) {
        over[i] = cur[i] > quota[i];
    }
    owned = blocks_over(a, m, sorted, n, over, &n_owned);
    for (size_t j = 0; j < n_owned; j++) {
        size_t i = owned[j].index;
        uint32_t y = MIN(cur[i] - quota[i], owned[j].blk.size);

        if (y) {
            release(a, owned[j].blk.start, owned[j].blk.size, y);
            cur[i] -= y;
        }
    }
    free(owned);

    /* The free blocks, to the backends under quota, the biggest deficit
     * first. */
    bl.n = 0;
    blocks_of(a, 0, m, SLOTS_NONE, &bl);
    for (size_t i = 0; i < n; i++) {
        needs[i].index = i;
        needs[i].id = b[i].id;
        needs[i].deficit = quota[i] - cur[i];
    }
    qsort(needs, n, sizeof *needs, compare_need);
    for (size_t j = 0; j < n && needs[j].deficit; j++) {
        take(a, &bl, needs[j].id, needs[j].deficit);
    }

    for (uint32_t r = 0; r < m; r++) {
        uint32_t s = rev(r, k);

        changed += table[s] != a[r];
        table[s] = a[r];
    }
    free(bl.b);
    free(sorted);
    free(a);
    free(cur);
    free(quota);
    free(needs);
    free(over);
    return changed;
}

/* ---- Compression. ---- */

size_t
slots_compress(const uint32_t *table, uint32_t m,
               void (*cb)(void *aux, uint32_t value, uint32_t mask,
                          uint32_t id),
               void *aux)
{
    unsigned int k = log2_exact(m);
    uint32_t *node = xmalloc(2 * m * sizeof *node);
    uint32_t *stack = xmalloc((2 * k + 2) * sizeof *stack);
    size_t n_stack = 0, count = 0;

    /* A heap over bit-reversed order: leaf m + r is slot rev(r); a node is
     * its slots' backend when they all have the same, else MIXED. */
    for (uint32_t r = 0; r < m; r++) {
        node[m + r] = table[rev(r, k)];
    }
    for (uint32_t i = m; i-- > 1; ) {
        node[i] = node[2 * i] == node[2 * i + 1] ? node[2 * i] : MIXED;
    }
    stack[n_stack++] = 1;
    while (n_stack) {
        uint32_t i = stack[--n_stack];
        unsigned int d = log2_exact(i + 1) - 1;    /* Depth: floor(log2 i). */
        if (node[i] == MIXED) {
            stack[n_stack++] = 2 * i + 1;
            stack[n_stack++] = 2 * i;
        } else if (node[i] != SLOTS_NONE) {
            /* Depth d fixes the top d bits of the reversed index, that is
             * the low d bits of the slot. */
            uint32_t mask = (1u << d) - 1;
            cb(aux, rev(i - (1u << d), d), mask, node[i]);
            count++;
        }
    }
    free(node);
    free(stack);
    return count;
}
