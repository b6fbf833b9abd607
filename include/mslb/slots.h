/* Slot tables: how a service's new connections are shared among its
 * backends (issue 9; docs/research/selection.md).
 *
 * A connection's hash picks one of M = 2^k slots by its low k bits, and
 * each slot names a backend.  The table is kept, not recomputed: a change
 * to the backends rebalances it in place, so that
 *
 *   - every backend holds its quota: from an empty table M * weight /
 *     total weights rounded to a neighbouring integer; after a change,
 *     what it holds wherever that is still within the balance targets
 *     (slots.c, targets()), so that a change moves only what the new
 *     shares need: removing a
 *     backend moves only its slots, adding one only the slots it takes;
 *   - M grows by replication (slot s and s + M hold the same backend), so
 *     doubling moves no connection.
 *
 * Slots are handed out and taken back in bit-reversed index order, in
 * which every set of slots one masked match on the low k bits covers is a
 * contiguous, aligned block: a backend's slots stay few blocks, and
 * slots_compress() turns the table into few (value, mask) matches.
 * Pure: no I/O; deterministic for the same table and backends. */
#ifndef MSLB_SLOTS_H
#define MSLB_SLOTS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLOTS_MIN 16
#define SLOTS_MAX 32768
#define SLOTS_NONE UINT32_MAX

struct slots_backend {
    uint32_t id;                /* Unique, below SLOTS_NONE - 1. */
    uint32_t weight;            /* >= 1. */
};

/* The number of slots (a power of two from SLOTS_MIN to SLOTS_MAX) for
 * 'n' backends: the fewest (every slot that sees traffic costs a datapath
 * flow) with which equal backends' max/mean share is <= 1.02 (n <= 64) or
 * <= 1.05 (n > 64), and unequal weights' shares are within 2% of theirs,
 * where SLOTS_MAX allows. */
uint32_t slots_size(const struct slots_backend *, size_t n);

/* Grows 'table' from 'm' to 'new_m' entries (a power-of-two multiple) by
 * replication; 'table' must have room for 'new_m'. */
void slots_grow(uint32_t *table, uint32_t m, uint32_t new_m);

/* Rebalances 'table' ('m' entries, SLOTS_NONE for none; a new table is all
 * SLOTS_NONE) for backends 'b' ('n' of them, n <= m; n == 0 empties it),
 * in place.  Returns the number of slots that changed hands. */
size_t slots_assign(uint32_t *table, uint32_t m,
                    const struct slots_backend *b, size_t n);

/* Whether slots_assign() would leave 'table' as it is: every slot names
 * one of 'b' ('n' >= 1 of them) and every count is within what a backend
 * may keep.  Cheaper: one pass, no scratch the size of the table. */
bool slots_balanced(const uint32_t *table, uint32_t m,
                    const struct slots_backend *b, size_t n);

/* The table as masked matches on the low bits of the hash: calls 'cb' for
 * each (value, mask, id) such that every slot s with (s & mask) == value
 * holds 'id'; the matches are disjoint and cover every slot not
 * SLOTS_NONE.  Returns how many there were. */
size_t slots_compress(const uint32_t *table, uint32_t m,
                      void (*cb)(void *aux, uint32_t value, uint32_t mask,
                                 uint32_t id),
                      void *aux);

/* The table as layered masked matches: calls 'cb' for each (value, mask,
 * id, depth), depth being the number of bits in 'mask', such that for every
 * slot the matching entry with the greatest depth names its id.  As few
 * entries as prefix matches allow (ORTC: a slot whose cover already names
 * its backend needs no entry of its own), usually far fewer than
 * slots_compress()'s disjoint ones, and a change to a few slots changes
 * few entries.  Returns how many there were. */
size_t slots_layer(const uint32_t *table, uint32_t m,
                   void (*cb)(void *aux, uint32_t value, uint32_t mask,
                              uint32_t id, unsigned int depth),
                   void *aux);

#endif /* slots.h */
