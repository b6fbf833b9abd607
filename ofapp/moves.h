/* Ending slot moves (docs/selection.md).  A move keeps the sessions that
 * were open on a slot when it changed hands; when its time is up, mslbd
 * asks every connected first-stage bridge which sessions its learned
 * entries still keep (DSR_AFFINITY, per service, slot and backend), and
 * a move whose old backend still has some lasts another idle_timeout
 * (nbdb_settle_moves()).  A bridge that cannot answer keeps every due
 * move. */
#ifndef MOVES_H
#define MOVES_H 1

struct bridges;
struct mdb;
struct nbdb;

struct moves *moves_create(struct nbdb *, const struct mdb *,
                           struct bridges *);
/* Destroy after the bridges: their collections under way call back. */
void moves_destroy(struct moves *);
/* Starts a settlement when moves are due (nbdb_moves_due()). */
void moves_run(struct moves *);

#endif /* moves.h */
