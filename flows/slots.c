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

/* The balance targets, in percent of a backend's exact share M * w / W:
 * how far above it a quota may be ('hi'), and how far below ('lo').
 * Equal backends: max/mean <= 1.02 up to 64 backends, <= 1.05 beyond; no
 * backend below 0.9 of the mean once it holds slots (the targets bound
 * the largest share only: a looser floor lets a table that grew by
 * replication keep its slots where they are).  Unequal weights: every
 * share within 2% of its weight's. */
static void
targets(const struct slots_backend *b, size_t n, unsigned int *hi,
        unsigned int *lo)
{
    bool equal = true;

    for (size_t i = 1; i < n; i++) {
        equal = equal && b[i].weight == b[0].weight;
    }
    *hi = equal && n > 64 ? 5 : 2;
    *lo = equal ? 10 : 2;
}

/* Whether 'm' slots give every backend a share within the targets: a
 * quota rounded up exceeds its exact share M * w / W by at most 'hi'
 * (relative), and, for unequal weights, a quota rounded down falls short
 * of it by at most 'lo'. */
static bool
slots_fit(const struct slots_backend *b, size_t n, uint64_t total,
          uint32_t m, double hi, double lo)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t num = (uint64_t) m * b[i].weight;
        double exact = (double) num / total;
        uint64_t fl = num / total;

        if (num % total == 0) {
            continue;           /* Exact. */
        }
        if ((fl + 1 - exact) / exact > hi || (lo && (exact - fl) / exact > lo)) {
            return false;
        }
    }
    return true;
}

uint32_t
slots_size(const struct slots_backend *b, size_t n)
{
    uint64_t total = 0;
    uint32_t m = SLOTS_MIN;
    unsigned int hi, lo;
    bool equal = true;

    if (!n) {
        return SLOTS_MIN;
    }
    for (size_t i = 0; i < n; i++) {
        total += b[i].weight;
        equal = equal && b[i].weight == b[0].weight;
    }
    /* As few slots as the targets allow (see targets()): every slot that
     * sees traffic costs a datapath flow, and a cold one an upcall.  Equal
     * backends are bound above only. */
    targets(b, n, &hi, &lo);
    while ((m < n || !slots_fit(b, n, total, m, hi / 100.0,
                                equal ? 0 : lo / 100.0))
           && m < SLOTS_MAX) {
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

/* The tolerances quotas() keeps counts within, for a table of 'm' slots:
 * targets(), or none (floor or ceiling of the exact share) in a table
 * bigger than the backends need.  Such a table (backends removed or
 * reweighted since it grew) goes back to exact shares, whose layout can
 * halve back to the size a table built from nothing would have: a
 * controller restarted from the same configuration, without the
 * database, then builds the same table. */
static void
keep_tolerances(const struct slots_backend *b, size_t n, uint32_t m,
                unsigned int *hi, unsigned int *lo)
{
    if (m > slots_size(b, n)) {
        *hi = *lo = 0;
    } else {
        targets(b, n, hi, lo);
    }
}

/* The counts a backend whose exact share is num / total slots may keep:
 * within 'hi' percent above and 'lo' percent below it, never held tighter
 * than the share rounded down and up, never below 1. */
static void
bounds(uint64_t num, uint64_t total, unsigned int hi, unsigned int lo,
       uint32_t *lo_count, uint32_t *hi_count)
{
    uint64_t fl = num / total, ce = fl + (num % total != 0);
    uint64_t up = num * (100 + hi) / (100 * total);
    uint64_t down = (num * (100 - lo) + 100 * total - 1) / (100 * total);

    *hi_count = MAX(MAX(ce, up), 1);
    *lo_count = MAX(MIN(fl, down), 1);
}

struct quota {
    size_t index;               /* Into the caller's backends. */
    uint32_t id;
    uint64_t num;               /* m * weight: the exact share is num / W. */
    uint32_t q;                 /* The quota so far. */
    uint32_t lo, hi;            /* Its bounds. */
};

/* How far 'x' slots are above the exact share of 'q', times W. */
static int64_t
excess(const struct quota *q, uint32_t x, uint64_t total)
{
    return (int64_t) x * (int64_t) total - (int64_t) q->num;
}

/* A binary heap of quota indexes, least key first; 'up': keyed by the
 * excess after one slot more (who gains next), else by the negated excess
 * as it stands (who gives back next); ties by id. */
struct qheap {
    const struct quota *q;
    uint64_t total;
    bool up;
    size_t *v;
    size_t n;
};

static bool
qheap_less(const struct qheap *h, size_t a, size_t b)
{
    const struct quota *x = &h->q[a], *y = &h->q[b];
    int64_t kx = h->up ? excess(x, x->q + 1, h->total)
                       : -excess(x, x->q, h->total);
    int64_t ky = h->up ? excess(y, y->q + 1, h->total)
                       : -excess(y, y->q, h->total);

    return kx != ky ? kx < ky : x->id < y->id;
}

static void
qheap_down(struct qheap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < h->n && qheap_less(h, h->v[l], h->v[m])) {
            m = l;
        }
        if (r < h->n && qheap_less(h, h->v[r], h->v[m])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        size_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

/* Moves the quotas' sum 'sum' to 'm', one slot at a time, each time the
 * backend that ends closest to its exact share (above it when gaining,
 * below it when giving back), none past its hi when gaining, nor below
 * its lo ('use_lo') or 1 when giving back. */
static void
qadjust(struct quota *q, size_t n, uint64_t total, int64_t *sum, uint32_t m,
        bool use_lo)
{
    bool up = *sum < m;
    struct qheap h = { q, total, up, xcalloc(MAX(n, 1), sizeof *h.v), 0 };

    for (size_t i = 0; i < n; i++) {
        if (up ? q[i].q < q[i].hi : q[i].q > (use_lo ? q[i].lo : 1)) {
            h.v[h.n++] = i;
        }
    }
    for (size_t i = h.n / 2; i-- > 0; ) {
        qheap_down(&h, i);
    }
    while (h.n && *sum != m) {
        struct quota *x = &q[h.v[0]];

        x->q += up ? 1 : -1;
        *sum += up ? 1 : -1;
        if (up ? x->q >= x->hi : x->q <= (use_lo ? x->lo : 1)) {
            h.v[0] = h.v[--h.n];
        }
        qheap_down(&h, 0);
    }
    free(h.v);
}

/* Quotas summing to 'm': a backend keeps what it holds ('cur') where that
 * is within the targets of its exact share; the slots left over or
 * missing go, one at a time, where they leave every share closest to
 * exact.  From an empty table that is each exact share rounded down or
 * up (largest remainders first).  In integers: the same on every
 * machine. */
static void
quotas(const struct slots_backend *b, size_t n, uint32_t m,
       const uint32_t *cur, uint32_t *quota)
{
    struct quota *q = xcalloc(n, sizeof *q);
    uint64_t total = 0;
    unsigned int hi, lo;
    int64_t sum = 0;

    keep_tolerances(b, n, m, &hi, &lo);
    for (size_t i = 0; i < n; i++) {
        total += b[i].weight;
    }
    for (size_t i = 0; i < n; i++) {
        q[i].index = i;
        q[i].id = b[i].id;
        q[i].num = (uint64_t) m * b[i].weight;
        bounds(q[i].num, total, hi, lo, &q[i].lo, &q[i].hi);
        q[i].q = MIN(MAX(cur[i], q[i].lo), q[i].hi);
        sum += q[i].q;
    }
    if (sum != m) {
        qadjust(q, n, total, &sum, m, true);
    }
    if (sum > m) {
        qadjust(q, n, total, &sum, m, false);   /* Too many minimums. */
    }
    for (size_t i = 0; i < n; i++) {
        quota[q[i].index] = q[i].q;
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

#define MIXED (SLOTS_NONE - 1)

/* The table in bit-reversed order as a heap: node[m + r] is position r's
 * backend (or SLOTS_NONE), node[i] its two children's when they agree,
 * else MIXED.  Block [start, start + size) is node (m + start) / size, so
 * "is this block all one backend's" is one look-up. */
struct heap {
    uint32_t *node;
    uint32_t m;
};

static uint32_t
heap_owner(const struct heap *h, uint32_t start, uint32_t size)
{
    return h->node[(h->m + start) / size];
}

/* The other half of the block's parent: merging with it makes a block
 * twice the size (none for the whole table). */
static bool
buddy_is(const struct heap *h, const struct block *blk, uint32_t id)
{
    return blk->size < h->m
           && heap_owner(h, blk->start ^ blk->size, blk->size) == id;
}

/* Gives block [start, start + size) to 'id' (SLOTS_NONE: frees it). */
static void
heap_fill(struct heap *h, uint32_t start, uint32_t size, uint32_t id)
{
    uint32_t top = (h->m + start) / size;

    for (uint32_t j = top, w = 1; w <= size; j *= 2, w *= 2) {
        for (uint32_t i = j; i < j + w; i++) {
            h->node[i] = id;
        }
    }
    for (uint32_t j = top / 2; j >= 1; j /= 2) {
        uint32_t v = (h->node[2 * j] == h->node[2 * j + 1]
                      ? h->node[2 * j] : MIXED);
        if (h->node[j] == v) {
            break;              /* Its ancestors do not change either. */
        }
        h->node[j] = v;
    }
}

/* Calls 'cb' for every maximal block of the heap that is all one
 * backend's (or all free), in position order. */
static void
heap_blocks(const struct heap *h,
            void (*cb)(void *aux, uint32_t id, uint32_t start,
                       uint32_t size),
            void *aux)
{
    uint32_t stack[2 * 32 + 2];
    size_t n_stack = 0;

    stack[n_stack++] = 1;
    while (n_stack) {
        uint32_t i = stack[--n_stack];
        unsigned int d = log2_exact(i + 1) - 1;    /* floor(log2 i) */

        if (h->node[i] == MIXED) {
            stack[n_stack++] = 2 * i + 1;
            stack[n_stack++] = 2 * i;
        } else {
            uint32_t size = h->m >> d;
            cb(aux, h->node[i], (i - (1u << d)) * size, size);
        }
    }
}

/* A block of a backend's slots, for giving some back. */
struct owned {
    size_t index;               /* Into the caller's backends. */
    struct block blk;
    bool buddy_wants;           /* Its buddy is free or all held by a
                                 * backend under quota: freed, it makes a
                                 * bigger free block, or a bigger block for
                                 * that backend (merge_takes()). */
    bool gone;                  /* Freed whole by merge_releases(). */
};

/* A backend's blocks, the smallest first (what it keeps is few blocks),
 * and of those the ones whose buddy wants them first (what it gives back
 * merges). */
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
    if (a->buddy_wants != b->buddy_wants) {
        return a->buddy_wants ? -1 : 1;
    }
    return a->blk.start < b->blk.start ? -1 : a->blk.start > b->blk.start;
}

struct collect {
    const struct heap *h;
    const struct by_id *sorted;
    size_t n;
    const bool *over;           /* Per backend: collect its blocks. */
    uint32_t *cur;              /* merge_releases() updates it. */
    const uint32_t *quota;
    struct owned *o;
    size_t n_owned, allocated;
    struct blocks *free;        /* Or: collect the free blocks here. */
};

static bool
buddy_wants(const struct collect *c, const struct block *blk)
{
    uint32_t owner;
    size_t index;

    if (blk->size >= c->h->m) {
        return false;
    }
    owner = heap_owner(c->h, blk->start ^ blk->size, blk->size);
    if (owner == SLOTS_NONE) {
        return true;
    }
    index = owner == MIXED ? SIZE_MAX : find(c->sorted, c->n, owner);
    return index != SIZE_MAX && c->cur[index] < c->quota[index];
}

static void
collect_cb(void *aux, uint32_t id, uint32_t start, uint32_t size)
{
    struct collect *c = aux;

    if (c->free) {
        if (id == SLOTS_NONE) {
            blocks_push(c->free, start, size);
        }
        return;
    }
    if (id != SLOTS_NONE) {
        size_t index = find(c->sorted, c->n, id);

        if (index != SIZE_MAX && c->over[index]) {
            struct block blk = { start, size };

            if (c->n_owned >= c->allocated) {
                c->allocated = c->allocated ? 2 * c->allocated : 16;
                c->o = mslb_xrealloc(c->o, c->allocated * sizeof *c->o);
            }
            c->o[c->n_owned++] = (struct owned) {
                index, blk, buddy_wants(c, &blk), false,
            };
        }
    }
}

static int
compare_owned_small_first(const void *a_, const void *b_)
{
    const struct owned *a = a_, *b = b_;

    if (a->blk.size != b->blk.size) {
        return a->blk.size < b->blk.size ? -1 : 1;
    }
    return a->blk.start < b->blk.start ? -1 : a->blk.start > b->blk.start;
}

/* The index in 'c->o' of block 'blk' ('c->o' sorted small first), or
 * SIZE_MAX. */
static size_t
find_owned(const struct collect *c, const struct block *blk)
{
    struct owned key = { .blk = *blk };
    const struct owned *o = bsearch(&key, c->o, c->n_owned, sizeof *c->o,
                                    compare_owned_small_first);

    return o ? o - c->o : SIZE_MAX;
}

/* Before each backend over quota gives back what it must on its own: the
 * whole blocks that, freed, merge with their buddy, the smallest first
 * across every backend.  A block goes when its owner can give all of it
 * and its buddy is free, or held whole by a backend under quota (which
 * merge_takes() will give it), or held whole by another backend over
 * quota that can give all of it too (both go: one free block twice the
 * size, that can merge further up).  Freed blocks are marked gone in
 * 'c->o', which stays sorted small first. */
static void
merge_releases(struct heap *h, struct collect *c)
{
    uint32_t *cur = c->cur;

    if (c->n_owned) {
        qsort(c->o, c->n_owned, sizeof *c->o, compare_owned_small_first);
    }
    for (size_t j = 0; j < c->n_owned; j++) {
        struct owned *x = &c->o[j];
        size_t i = x->index, k;
        struct block buddy;
        uint32_t owner;

        if (x->gone || x->blk.size >= h->m
            || cur[i] - c->quota[i] < x->blk.size) {
            continue;
        }
        buddy = (struct block) { x->blk.start ^ x->blk.size, x->blk.size };
        owner = heap_owner(h, buddy.start, buddy.size);
        if (owner == MIXED) {
            continue;           /* Freeing it merges with nothing. */
        } else if (owner != SLOTS_NONE) {
            k = find(c->sorted, c->n, owner);
            if (k == SIZE_MAX) {
                continue;
            }
            if (c->over[k]) {
                size_t y = find_owned(c, &buddy);

                if (y == SIZE_MAX || cur[k] - c->quota[k] < buddy.size) {
                    continue;
                }
                heap_fill(h, buddy.start, buddy.size, SLOTS_NONE);
                cur[k] -= buddy.size;
                c->o[y].gone = true;
            } else if (c->quota[k] < cur[k] + buddy.size) {
                continue;       /* Not under quota by the whole block. */
            }
        }
        heap_fill(h, x->blk.start, x->blk.size, SLOTS_NONE);
        cur[i] -= x->blk.size;
        x->gone = true;
    }
}

/* Frees 'y' positions of block [start, start + size) (y <= size), from its
 * top, in aligned halves, so that what stays is few blocks. */
static void
release(struct heap *h, uint32_t start, uint32_t size, uint32_t y)
{
    while (y) {
        uint32_t half = size / 2;

        if (y == size) {
            heap_fill(h, start, size, SLOTS_NONE);
            return;
        }
        if (y >= half) {
            heap_fill(h, start + half, half, SLOTS_NONE);
            y -= half;
        } else {
            start += half;
        }
        size = half;
    }
}

/* Whether free block 'c' is a better one than 'o' for 'id' to take 'p' of
 * (the largest power of two in what it still wants): first a block no
 * bigger than it wants whose buddy 'id' holds whole, the biggest first
 * (taking it merges them into one block); then buddy allocation: exact
 * fits, then the smallest bigger block split, then the biggest smaller
 * one whole. */
static bool
better_take(const struct heap *h, uint32_t id, uint32_t want, uint32_t p,
            const struct block *c, const struct block *o)
{
    bool c_merges = c->size <= want && buddy_is(h, c, id);
    bool o_merges = o->size <= want && buddy_is(h, o, id);
    bool c_fits = c->size >= p, o_fits = o->size >= p;

    if (c_merges != o_merges) {
        return c_merges;
    }
    if (c_merges && c->size != o->size) {
        return c->size > o->size;
    }
    if (!c_merges && c_fits != o_fits) {
        return c_fits;
    }
    if (c->size != o->size) {
        return c_merges || !c_fits ? c->size > o->size : c->size < o->size;
    }
    return c->start < o->start;
}

static int
compare_blocks_big_first(const void *a_, const void *b_)
{
    const struct block *a = a_, *b = b_;

    if (a->size != b->size) {
        return a->size > b->size ? -1 : 1;
    }
    return a->start < b->start ? -1 : a->start > b->start;
}

/* Before the backends under quota take in turn: every free block whose
 * buddy one of them holds whole, and that it still wants all of, goes to
 * it, the biggest blocks first, until none is left (a merge can make a
 * bigger block whose buddy is free and wanted too).  'needs' is indexed
 * like the caller's backends. */
static void
merge_takes(struct heap *h, struct blocks *fb, const struct by_id *sorted,
            size_t n, struct need *needs)
{
    bool again = true;

    while (again) {
        again = false;
        if (fb->n) {
            qsort(fb->b, fb->n, sizeof *fb->b, compare_blocks_big_first);
        }
        for (size_t i = 0; i < fb->n; ) {
            struct block blk = fb->b[i];
            uint32_t owner = (blk.size < h->m
                              ? heap_owner(h, blk.start ^ blk.size, blk.size)
                              : MIXED);
            size_t j = (owner == MIXED || owner == SLOTS_NONE
                        ? SIZE_MAX : find(sorted, n, owner));

            if (j != SIZE_MAX && needs[j].deficit >= blk.size) {
                heap_fill(h, blk.start, blk.size, owner);
                needs[j].deficit -= blk.size;
                memmove(&fb->b[i], &fb->b[i + 1],
                        (fb->n - i - 1) * sizeof *fb->b);
                fb->n--;
                again = true;
            } else {
                i++;
            }
        }
    }
}

/* Takes 'want' free positions for 'id' from the free blocks 'fb'. */
static void
take(struct heap *h, struct blocks *fb, uint32_t id, uint32_t want)
{
    while (want) {
        uint32_t p = 1;
        size_t best = SIZE_MAX;

        while (p * 2 <= want) {
            p *= 2;
        }
        for (size_t i = 0; i < fb->n; i++) {
            if (best == SIZE_MAX
                || better_take(h, id, want, p, &fb->b[i], &fb->b[best])) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            return;                 /* Cannot happen: free == deficits. */
        }
        struct block blk = fb->b[best];
        fb->b[best] = fb->b[--fb->n];
        uint32_t got = MIN(p, blk.size);
        heap_fill(h, blk.start, got, id);
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
    struct heap h = { xmalloc(2 * m * sizeof *h.node), m };
    uint32_t *a = h.node + m;
    uint32_t *cur = xcalloc(MAX(n, 1), sizeof *cur);
    uint32_t *quota = xcalloc(MAX(n, 1), sizeof *quota);
    struct need *needs = xcalloc(MAX(n, 1), sizeof *needs);
    bool *over = xcalloc(MAX(n, 1), sizeof *over);
    struct blocks bl = { NULL, 0, 0 };
    struct collect c;
    size_t changed = 0;

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
    for (uint32_t i = m; i-- > 1; ) {
        h.node[i] = (h.node[2 * i] == h.node[2 * i + 1]
                     ? h.node[2 * i] : MIXED);
    }
    if (n) {
        quotas(b, n, m, cur, quota);
    }

    /* A backend over its quota gives back its smallest blocks first, then
     * the top of the next one.  One pass over the table finds every such
     * backend's blocks (a change may leave hundreds one slot over). */
    for (size_t i = 0; i < n; i++) {
        over[i] = cur[i] > quota[i];
    }
    c = (struct collect) { .h = &h, .sorted = sorted, .n = n,
                           .over = over, .cur = cur, .quota = quota };
    heap_blocks(&h, collect_cb, &c);
    merge_releases(&h, &c);
    if (c.n_owned) {
        qsort(c.o, c.n_owned, sizeof *c.o, compare_owned);
    }
    for (size_t j = 0; j < c.n_owned; j++) {
        size_t i = c.o[j].index;
        uint32_t y = MIN(cur[i] - quota[i], c.o[j].blk.size);

        if (y && !c.o[j].gone) {
            release(&h, c.o[j].blk.start, c.o[j].blk.size, y);
            cur[i] -= y;
        }
    }
    free(c.o);

    /* The free blocks, to the backends under quota, the biggest deficit
     * first. */
    c = (struct collect) { .free = &bl };
    heap_blocks(&h, collect_cb, &c);
    for (size_t i = 0; i < n; i++) {
        needs[i].index = i;
        needs[i].id = b[i].id;
        needs[i].deficit = quota[i] - cur[i];
    }
    merge_takes(&h, &bl, sorted, n, needs);
    qsort(needs, n, sizeof *needs, compare_need);
    for (size_t j = 0; j < n && needs[j].deficit; j++) {
        take(&h, &bl, needs[j].id, needs[j].deficit);
    }

    for (uint32_t r = 0; r < m; r++) {
        uint32_t s = rev(r, k);

        changed += table[s] != a[r];
        table[s] = a[r];
    }
    free(bl.b);
    free(sorted);
    free(h.node);
    free(cur);
    free(quota);
    free(needs);
    free(over);
    return changed;
}

bool
slots_balanced(const uint32_t *table, uint32_t m,
               const struct slots_backend *b, size_t n)
{
    struct by_id *sorted = xcalloc(MAX(n, 1), sizeof *sorted);
    uint32_t *count = xcalloc(MAX(n, 1), sizeof *count);
    uint64_t total = 0;
    unsigned int hi, lo;
    bool ok = n > 0;

    for (size_t i = 0; i < n; i++) {
        sorted[i].id = b[i].id;
        sorted[i].index = i;
        total += b[i].weight;
    }
    qsort(sorted, n, sizeof *sorted, compare_by_id);
    for (uint32_t s = 0; ok && s < m; s++) {
        size_t i = table[s] == SLOTS_NONE ? SIZE_MAX
                   : find(sorted, n, table[s]);

        ok = i != SIZE_MAX;
        if (ok) {
            count[i]++;
        }
    }
    keep_tolerances(b, n, m, &hi, &lo);
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t lo_count, hi_count;

        bounds((uint64_t) m * b[i].weight, total, hi, lo, &lo_count,
               &hi_count);
        ok = count[i] >= lo_count && count[i] <= hi_count;
    }
    free(sorted);
    free(count);
    return ok;
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

/* ---- Layered matches (fewest prefix entries: ORTC). ---- */

struct idset {
    uint32_t *ids;              /* Sorted. */
    uint32_t n;
};

static unsigned int
depth_of(uint32_t i)
{
    unsigned int d = 0;

    while (i >> (d + 1)) {
        d++;
    }
    return d;
}

static bool
idset_has(const struct idset *s, uint32_t id)
{
    uint32_t lo = 0, hi = s->n;

    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->ids[mid] < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < s->n && s->ids[lo] == id;
}

/* 'a' and 'b' merged into 'ids' (room for a->n + b->n): their
 * intersection if not empty, else their union (the first pass of ORTC: the
 * backends a covering entry could name so that the fewest entries below it
 * differ). */
static void
idset_merge(const struct idset *a, const struct idset *b, uint32_t *ids,
            struct idset *out)
{
    uint32_t i = 0, k = 0, n = 0;

    while (i < a->n && k < b->n) {
        if (a->ids[i] == b->ids[k]) {
            ids[n++] = a->ids[i];
            i++;
            k++;
        } else if (a->ids[i] < b->ids[k]) {
            i++;
        } else {
            k++;
        }
    }
    if (!n) {
        i = k = 0;
        while (i < a->n || k < b->n) {
            if (k == b->n || (i < a->n && a->ids[i] < b->ids[k])) {
                ids[n++] = a->ids[i++];
            } else if (i == a->n || b->ids[k] < a->ids[i]) {
                ids[n++] = b->ids[k++];
            } else {
                ids[n++] = a->ids[i++];
                k++;
            }
        }
    }
    out->ids = ids;
    out->n = n;
}

size_t
slots_layer(const uint32_t *table, uint32_t m,
            void (*cb)(void *aux, uint32_t value, uint32_t mask, uint32_t id,
                       unsigned int depth),
            void *aux)
{
    unsigned int k = log2_exact(m);
    struct idset *set = xcalloc(2 * m, sizeof *set);
    uint32_t *inherited = xmalloc(2 * m * sizeof *inherited);
    /* Every set lives in one buffer: a level's sets hold at most the m
     * ids of the level below, so (k + 2) * m is room for all. */
    uint32_t *pool = xmalloc((size_t) (k + 2) * m * sizeof *pool), used = 0;
    size_t count = 0;

    /* Bottom up, as a heap over bit-reversed order (see slots_compress()):
     * node i at depth d covers the slots whose low d bits are
     * rev(i - 2^d, d). */
    for (uint32_t r = 0; r < m; r++) {
        pool[used] = table[rev(r, k)];
        set[m + r].ids = &pool[used++];
        set[m + r].n = 1;
    }
    for (uint32_t i = m; i-- > 1; ) {
        idset_merge(&set[2 * i], &set[2 * i + 1], &pool[used], &set[i]);
        used += set[i].n;
    }

    /* Top down: a node keeps what covers it if it may, else gets an entry
     * of its own (the smallest id of its set: deterministic). */
    for (uint32_t i = 1; i < 2 * m; i++) {
        uint32_t h = i > 1 ? inherited[i / 2] : SLOTS_NONE;

        if (i > 1 && idset_has(&set[i], h)) {
            inherited[i] = h;
            continue;
        }
        unsigned int d = depth_of(i);
        inherited[i] = set[i].ids[0];
        if (set[i].ids[0] != SLOTS_NONE) {
            cb(aux, rev(i - (1u << d), d), (1u << d) - 1, set[i].ids[0], d);
            count++;
        }
    }
    free(pool);
    free(set);
    free(inherited);
    return count;
}
