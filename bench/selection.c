/* bench/selection.c: how new connections are shared among a service's
 * backends, mslb's slot tables (flows/slots.c, issue 9) side by side with
 * what OVS 3.1 does with a select group that names no selection_method.
 *
 *   selection [OPS [SEED]]
 *                    prints balance, weights, disruption, a random
 *                    sequence of OPS changes (1,000; seed 2024), time and
 *                    memory, as tables
 *   selection --sequence [OPS [SEED]]
 *                    the random sequence only
 *
 * Figures are exact over the hash space (every hash value, i.e. every
 * connection equally likely), except where a line says "sampled".  The
 * goals are issue 9's: max/mean share <= 1.02 for N <= 64 and <= 1.05 for
 * N <= 1,024; weights within 2%; one backend added or removed moves at
 * most 1/N + 1% of the connections.  It prints PASS/FAIL per row and
 * asserts nothing: the exit status is 0 unless the program itself fails.
 *
 * The OVS model (ofproto/ofproto-dpif.c, group_setup_dp_hash_table() and
 * group_set_selection_method(); ofproto-dpif-xlate.c,
 * group_best_live_bucket()), restated:
 *
 *   - the number of hash values is the next power of two of
 *     ceil(total weight / smallest weight), at least 16;
 *   - above 256 the group does not use dp_hash at all: every new flow is
 *     translated in the slow path, where each bucket scores
 *     (hash_int(bucket_id, flow_hash) & 0xffff) * weight and the highest
 *     wins (the last one on a tie);
 *   - otherwise hash values 0, 1, 2... go one at a time to the bucket
 *     with the highest weight / (2 * hits + 1) (Webster), the first in
 *     bucket order on a tie, and the datapath picks by dp_hash & (n - 1);
 *   - the map is rebuilt from nothing on every group change: it does not
 *     remember who had which value. */
#include <config.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "mslb/slots.h"

#define OVS_MAX_HASH 256
#define MAX_ID 65536            /* Backend ids in this program: below. */

static uint32_t rng;

static uint32_t
next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
xzalloc_or_die(size_t n)
{
    void *p = calloc(1, n ? n : 1);

    if (!p) {
        perror("calloc");
        exit(2);
    }
    return p;
}

/* ---- A map from the hash space to backends. ----
 *
 * Both kinds are a power-of-two table indexed by the low bits of the hash;
 * a map too big for OVS's dp_hash is 'hrw': chosen per flow. */
struct map {
    uint32_t *t;
    uint32_t m;
    bool hrw;                   /* OVS slow path: no table. */
};

static void
map_free(struct map *map)
{
    free(map->t);
    map->t = NULL;
}

static void
equal_backends(struct slots_backend *b, size_t n, uint32_t first_id)
{
    for (size_t i = 0; i < n; i++) {
        b[i].id = first_id + i;
        b[i].weight = 1;
    }
}

static uint64_t
total_weight(const struct slots_backend *b, size_t n)
{
    uint64_t total = 0;

    for (size_t i = 0; i < n; i++) {
        total += b[i].weight;
    }
    return total;
}

/* ---- OVS 3.1, as restated at the top. ---- */

static uint32_t
ovs_hash_values(const struct slots_backend *b, size_t n)
{
    uint64_t total = total_weight(b, n), wmin = UINT32_MAX, need, p = 1;

    for (size_t i = 0; i < n; i++) {
        wmin = b[i].weight < wmin ? b[i].weight : wmin;
    }
    need = (total + wmin - 1) / wmin;
    while (p < need) {
        p *= 2;
    }
    return p < 16 ? 16 : p;
}

/* OVS's map for buckets 'b' in this order, built from nothing. */
static struct map
ovs_map(const struct slots_backend *b, size_t n)
{
    struct map map = { NULL, ovs_hash_values(b, n), false };
    uint32_t *hits;

    if (map.m > OVS_MAX_HASH) {
        map.hrw = true;
        return map;
    }
    hits = xzalloc_or_die(n * sizeof *hits);
    map.t = xzalloc_or_die(map.m * sizeof *map.t);
    for (uint32_t h = 0; h < map.m; h++) {
        size_t best = 0;
        double best_v = (double) b[0].weight / (2 * hits[0] + 1);

        for (size_t i = 1; i < n; i++) {
            double v = (double) b[i].weight / (2 * hits[i] + 1);
            if (v > best_v) {
                best = i;
                best_v = v;
            }
        }
        hits[best]++;
        map.t[h] = b[best].id;
    }
    free(hits);
    return map;
}

/* The slow path's choice for a flow whose hash is 'flow_hash'; its score
 * in '*score'. */
static uint32_t
ovs_hrw(const struct slots_backend *b, size_t n, uint32_t flow_hash,
        uint32_t *score)
{
    uint32_t best = SLOTS_NONE, best_score = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t s = (hash_int(b[i].id, flow_hash) & 0xffff) * b[i].weight;
        if (s >= best_score) {
            best = b[i].id;
            best_score = s;
        }
    }
    *score = best_score;
    return best;
}

/* ---- mslb. ---- */

/* A slot table for 'b' from nothing. */
static struct map
slots_map(const struct slots_backend *b, size_t n)
{
    struct map map = { NULL, slots_size(b, n), false };

    map.t = xzalloc_or_die(SLOTS_MAX * sizeof *map.t);
    for (uint32_t s = 0; s < SLOTS_MAX; s++) {
        map.t[s] = SLOTS_NONE;
    }
    slots_assign(map.t, map.m, b, n);
    return map;
}

/* 'map' rebalanced for 'b' as the controller would: grown first when 'b'
 * wants more slots (never shrunk), then assigned in place. */
static void
slots_change(struct map *map, const struct slots_backend *b, size_t n)
{
    uint32_t want = slots_size(b, n);

    if (want > map->m) {
        slots_grow(map->t, map->m, want);
        map->m = want;
    }
    slots_assign(map->t, map->m, b, n);
}

static struct map
map_copy(const struct map *src)
{
    struct map map = *src;

    if (src->t) {
        size_t size = (src->hrw ? 0 : SLOTS_MAX) * sizeof *map.t;
        map.t = xzalloc_or_die(size);
        memcpy(map.t, src->t, size);
    }
    return map;
}

static void
count_matches_cb(void *aux, uint32_t value, uint32_t mask, uint32_t id)
{
    (void) aux;
    (void) value;
    (void) mask;
    (void) id;
}

static size_t
matches(const struct map *map)
{
    return slots_compress(map->t, map->m, count_matches_cb, NULL);
}

/* The fewest matches any table with the same counts could have: a
 * backend's slots are aligned power-of-two blocks, at least one per bit
 * set in its count. */
static size_t
least_matches(const struct map *map, const struct slots_backend *b,
              size_t n)
{
    static uint32_t count[MAX_ID];
    size_t least = 0;

    for (size_t i = 0; i < n; i++) {
        count[b[i].id] = 0;
    }
    for (uint32_t s = 0; s < map->m; s++) {
        count[map->t[s]]++;
    }
    for (size_t i = 0; i < n; i++) {
        least += __builtin_popcount(count[b[i].id]);
    }
    return least;
}

/* ---- Shares and moves over the hash space. ---- */

/* Each backend's hash values in 'map' (whose table is 'm' entries): the
 * largest count / mean (max/mean, for equal weights) and the largest
 * |count / ideal - 1| (for weights). */
static void
shares(const struct map *map, const struct slots_backend *b, size_t n,
       double *max_over_mean, double *worst_dev)
{
    static uint32_t count[MAX_ID];
    uint64_t total = total_weight(b, n);
    uint32_t max = 0;

    for (size_t i = 0; i < n; i++) {
        count[b[i].id] = 0;
    }
    for (uint32_t s = 0; s < map->m; s++) {
        if (map->t[s] < MAX_ID) {
            count[map->t[s]]++;
        }
    }
    *worst_dev = 0;
    for (size_t i = 0; i < n; i++) {
        double ideal = (double) map->m * b[i].weight / total;
        double dev = count[b[i].id] / ideal - 1;

        dev = dev < 0 ? -dev : dev;
        *worst_dev = dev > *worst_dev ? dev : *worst_dev;
        max = count[b[i].id] > max ? count[b[i].id] : max;
    }
    *max_over_mean = max / ((double) map->m / n);
}

/* The same with flows sampled, for OVS's slow path: 'samples' random flow
 * hashes, each to the bucket it picks. */
static void
shares_hrw(const struct slots_backend *b, size_t n, uint32_t samples,
           double *max_over_mean, double *worst_dev)
{
    static uint32_t count[MAX_ID];
    uint64_t total = total_weight(b, n);
    uint32_t max = 0, score;

    for (size_t i = 0; i < n; i++) {
        count[b[i].id] = 0;
    }
    for (uint32_t f = 0; f < samples; f++) {
        count[ovs_hrw(b, n, next_random(), &score)]++;
    }
    *worst_dev = 0;
    for (size_t i = 0; i < n; i++) {
        double ideal = (double) samples * b[i].weight / total;
        double dev = count[b[i].id] / ideal - 1;

        dev = dev < 0 ? -dev : dev;
        *worst_dev = dev > *worst_dev ? dev : *worst_dev;
        max = count[b[i].id] > max ? count[b[i].id] : max;
    }
    *max_over_mean = max / ((double) samples / n);
}

/* Between two tables: the fraction of the hash space whose backend
 * changed ('*moved') and the least that the new shares imply
 * ('*ideal': every backend's gain, the sum of max(0, new - old)). */
static void
compare(const struct map *a, const struct map *b, double *moved,
        double *ideal)
{
    static int32_t diff[MAX_ID];
    uint32_t l = a->m > b->m ? a->m : b->m;
    uint64_t changed = 0, gained = 0;

    for (uint32_t h = 0; h < l; h++) {
        uint32_t x = a->t[h & (a->m - 1)], y = b->t[h & (b->m - 1)];

        changed += x != y;
        if (x < MAX_ID) {
            diff[x]--;
        }
        if (y < MAX_ID) {
            diff[y]++;
        }
    }
    for (uint32_t h = 0; h < l; h++) {
        uint32_t x = a->t[h & (a->m - 1)], y = b->t[h & (b->m - 1)];

        if (x < MAX_ID) {
            gained += diff[x] > 0 ? diff[x] : 0;
            diff[x] = 0;
        }
        if (y < MAX_ID) {
            gained += diff[y] > 0 ? diff[y] : 0;
            diff[y] = 0;
        }
    }
    *moved = (double) changed / l;
    *ideal = (double) gained / l;
}

/* ---- Sections. ---- */

static const size_t big_sizes[] = {
    100, 128, 200, 255, 256, 300, 500, 512, 700, 1000, 1023, 1024,
};
#define N_SIZES (64 + sizeof big_sizes / sizeof *big_sizes)

static size_t
size_at(size_t i)
{
    return i < 64 ? i + 1 : big_sizes[i - 64];
}

static double
balance_goal(size_t n)
{
    return n <= 64 ? 1.02 : 1.05;
}

static void
balance(void)
{
    static struct slots_backend b[1024];
    double worst_small = 0, worst_big = 0;
    size_t worst_small_n = 0, worst_big_n = 0, fails = 0;
    double ovs_worst_small = 0, ovs_worst_big = 0;
    size_t ovs_fails = 0, ovs_slow = 0;

    printf("== balance: max/mean share, N equal backends, exact over "
           "the hash space ==\n");
    printf("%5s | %-22s | %-34s | %5s\n", "N", "ovs select group",
           "mslb slots", "goal");
    printf("%5s | %6s %9s %5s | %6s %9s %8s %8s | %5s\n", "", "values",
           "max/mean", "", "slots", "max/mean", "matches", "", "");
    for (size_t i = 0; i < N_SIZES; i++) {
        size_t n = size_at(i);
        struct map o, s;
        double o_mm = 0, s_mm, dev;
        bool pass;
        char o_text[40];

        equal_backends(b, n, 1);
        o = ovs_map(b, n);
        s = slots_map(b, n);
        if (o.hrw) {
            snprintf(o_text, sizeof o_text, "%6s %9s %5s", "-",
                     "slowpath", "");
            ovs_slow++;
        } else {
            shares(&o, b, n, &o_mm, &dev);
            snprintf(o_text, sizeof o_text, "%6u %9.4f %5s", o.m, o_mm,
                     o_mm <= balance_goal(n) ? "PASS" : "FAIL");
            ovs_fails += o_mm > balance_goal(n);
            if (n <= 64) {
                ovs_worst_small = o_mm > ovs_worst_small ? o_mm
                                                         : ovs_worst_small;
            } else {
                ovs_worst_big = o_mm > ovs_worst_big ? o_mm : ovs_worst_big;
            }
        }
        shares(&s, b, n, &s_mm, &dev);
        pass = s_mm <= balance_goal(n);
        fails += !pass;
        if (n <= 64 && s_mm > worst_small) {
            worst_small = s_mm;
            worst_small_n = n;
        } else if (n > 64 && s_mm > worst_big) {
            worst_big = s_mm;
            worst_big_n = n;
        }
        printf("%5zu | %s | %6u %9.4f %8zu %8s | %5.2f\n", n, o_text, s.m,
               s_mm, matches(&s), pass ? "PASS" : "FAIL",
               balance_goal(n));
        map_free(&o);
        map_free(&s);
    }
    printf("summary balance: mslb worst N<=64: %.4f at N=%zu; worst "
           "N<=1024: %.4f at N=%zu; %zu of %zu rows FAIL\n",
           worst_small, worst_small_n, worst_big, worst_big_n, fails,
           (size_t) N_SIZES);
    printf("summary balance: ovs worst N<=64: %.4f; worst 64<N<=256: "
           "%.4f; %zu of %zu table rows FAIL; %zu rows (N > 256) have no "
           "table (every new flow upcalls)\n", ovs_worst_small,
           ovs_worst_big, ovs_fails, (size_t) N_SIZES - ovs_slow,
           ovs_slow);

    /* Above 256 OVS chooses per flow: compare on the same sampled flows,
     * where the flows' own spread is part of both figures. */
    {
        const size_t n = 1024;
        const uint32_t samples = 1u << 18;
        struct map s;
        double o_mm, s_mm, dev;
        uint32_t max = 0;
        static uint32_t count[MAX_ID];

        equal_backends(b, n, 1);
        rng = 4242;
        shares_hrw(b, n, samples, &o_mm, &dev);
        s = slots_map(b, n);
        rng = 4242;
        memset(count, 0, sizeof count);
        for (uint32_t f = 0; f < samples; f++) {
            uint32_t id = s.t[next_random() & (s.m - 1)];
            count[id]++;
            max = count[id] > max ? count[id] : max;
        }
        s_mm = max / ((double) samples / n);
        printf("sampled, N=1024, %u random flow hashes (256 per "
               "backend): max/mean ovs slow path %.3f, mslb slots %.3f "
               "(the flows' own spread dominates both)\n", samples, o_mm,
               s_mm);
        map_free(&s);
    }
    printf("\n");
}

static void
weights(void)
{
    static const uint32_t sets[][6] = {
        { 1, 2, 3, 4 }, { 1, 100 }, { 100, 1 }, { 1, 1, 100 }, { 3, 1 },
        { 7, 13, 29, 100, 1 }, { 2, 3, 5, 7, 11, 13 }, { 1, 255 },
        { 1, 1000 }, { 1, 10000 },
    };
    double worst = 0, ovs_worst = 0;
    size_t fails = 0;

    printf("== weights: worst |share / weight's share - 1| (goal 2%%) "
           "==\n");
    printf("%-18s | %-24s | %-24s\n", "weights", "ovs select group",
           "mslb slots");
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
        struct slots_backend b[6];
        char name[64] = "", o_text[40];
        size_t n = 0, len = 0;
        struct map o, s;
        double mm, o_dev, s_dev;

        for (; n < 6 && sets[k][n]; n++) {
            b[n].id = 1 + n;
            b[n].weight = sets[k][n];
            len += snprintf(name + len, sizeof name - len, "%s%u",
                            n ? ":" : "", sets[k][n]);
        }
        o = ovs_map(b, n);
        if (o.hrw) {
            rng = 99;
            shares_hrw(b, n, 1u << 20, &mm, &o_dev);
            snprintf(o_text, sizeof o_text, "slowpath %6.2f%%* %s",
                     o_dev * 100, o_dev <= 0.02 ? "PASS" : "FAIL");
        } else {
            shares(&o, b, n, &mm, &o_dev);
            snprintf(o_text, sizeof o_text, "%4u val %7.2f%%  %s", o.m,
                     o_dev * 100, o_dev <= 0.02 ? "PASS" : "FAIL");
        }
        ovs_worst = o_dev > ovs_worst ? o_dev : ovs_worst;
        s = slots_map(b, n);
        shares(&s, b, n, &mm, &s_dev);
        worst = s_dev > worst ? s_dev : worst;
        fails += s_dev > 0.02;
        printf("%-18s | %-24s | %5u slots %6.2f%% %s\n", name, o_text,
               s.m, s_dev * 100, s_dev <= 0.02 ? "PASS" : "FAIL");
        map_free(&o);
        map_free(&s);
    }
    printf("(* sampled: 2^20 random flow hashes through OVS's slow-path "
           "choice)\n");
    printf("summary weights: mslb worst %.2f%%, %zu FAIL (slots capped at "
           "%u); ovs worst %.2f%%\n\n", worst * 100, fails, SLOTS_MAX,
           ovs_worst * 100);
}

/* OVS's slow path, one backend removed or added: the fraction of
 * 'samples' flows that change backend. */
static void
hrw_disruption(const struct slots_backend *b, size_t n, size_t victim,
               uint32_t new_id, uint32_t samples, double *removed,
               double *added)
{
    uint64_t moved_rm = 0, moved_add = 0;

    rng = 5151;
    for (uint32_t f = 0; f < samples; f++) {
        uint32_t hash = next_random(), score;
        uint32_t winner = ovs_hrw(b, n, hash, &score);
        uint32_t s = (hash_int(new_id, hash) & 0xffff) * 1;

        /* Removing a bucket changes only the flows it won; a bucket added
         * last wins the flows where it scores at least the best. */
        moved_rm += winner == b[victim].id;
        moved_add += s >= score;
    }
    *removed = (double) moved_rm / samples;
    *added = (double) moved_add / samples;
}

static void
disruption(void)
{
    static struct slots_backend b[1025], c[1025];
    double worst_ratio = 0;
    size_t fails = 0, worst_n = 0, ovs_fails = 0, rows = 0;

    printf("== disruption: fraction of the hash space that changes "
           "backend, N equal backends ==\n");
    printf("remove: the backend in the middle of N; add: one more after "
           "the N; bound = 1/N + 1%% (ideal 1/N, 1/(N+1))\n");
    printf("%5s | %-21s | %-30s | %s\n", "N", "ovs remove   add",
           "mslb remove    add", "bound");
    for (size_t i = 0; i < N_SIZES; i++) {
        size_t n = size_at(i), victim = n / 2;
        double o_rm = -1, o_add, s_rm = -1, s_add, ideal, bound;
        struct map o, s, o2, s2;
        bool pass = true;
        char o_text[40];

        bound = 1.0 / n + 0.01;
        equal_backends(b, n, 1);
        o = ovs_map(b, n);
        s = slots_map(b, n);

        /* Remove the middle one (the others keep their order). */
        if (n > 1) {
            memcpy(c, b, victim * sizeof *b);
            memcpy(c + victim, b + victim + 1,
                   (n - victim - 1) * sizeof *b);
            s2 = map_copy(&s);
            slots_change(&s2, c, n - 1);
            compare(&s, &s2, &s_rm, &ideal);
            map_free(&s2);
            if (!o.hrw) {
                o2 = ovs_map(c, n - 1);
                if (!o2.hrw) {
                    compare(&o, &o2, &o_rm, &ideal);
                }
                map_free(&o2);
            }
        }
        /* Add one. */
        memcpy(c, b, n * sizeof *b);
        c[n].id = n + 1;
        c[n].weight = 1;
        s2 = map_copy(&s);
        slots_change(&s2, c, n + 1);
        compare(&s, &s2, &s_add, &ideal);
        map_free(&s2);

        o2 = ovs_map(c, n + 1);
        if (o.hrw || o2.hrw) {
            double rm, add;

            hrw_disruption(b, n, victim, n + 1, 1u << 16, &rm, &add);
            if (o.hrw) {
                o_rm = rm;
                o_add = add;
            } else {
                /* From a dp_hash table to the slow path: the two choices
                 * use unrelated hashes, so a flow keeps its backend only
                 * by chance. */
                o_add = 1 - 1.0 / (n + 1);
            }
        } else {
            compare(&o, &o2, &o_add, &ideal);
        }
        if (o_rm < 0) {
            snprintf(o_text, sizeof o_text, "%7s %7.2f%%%s", "-",
                     o_add * 100, o2.hrw ? "*" : " ");
        } else {
            snprintf(o_text, sizeof o_text, "%6.2f%%%s %6.2f%%%s",
                     o_rm * 100, o.hrw ? "*" : " ", o_add * 100,
                     o2.hrw ? "*" : " ");
        }
        map_free(&o2);
        ovs_fails += o_add > bound || o_rm > bound;

        pass = s_rm <= bound && s_add <= bound;
        fails += !pass;
        rows++;
        double r = (s_rm > s_add ? s_rm : s_add) / bound;
        if (r > worst_ratio) {
            worst_ratio = r;
            worst_n = n;
        }
        if (s_rm < 0) {
            printf("%5zu | %-21s | %7s %7.2f%% %8s | %6.2f%%\n", n,
                   o_text, "-", s_add * 100, pass ? "PASS" : "FAIL",
                   bound * 100);
        } else {
            printf("%5zu | %-21s | %6.2f%% %7.2f%% %8s | %6.2f%%\n", n,
                   o_text, s_rm * 100, s_add * 100,
                   pass ? "PASS" : "FAIL", bound * 100);
        }
        map_free(&o);
        map_free(&s);
    }
    printf("(* OVS slow path, sampled over 2^16 random flow hashes; at "
           "N=256 the add crosses from a dp_hash table to the slow path: "
           "1 - 1/(N+1), the two choices being unrelated)\n");
    printf("summary disruption: mslb %zu of %zu rows FAIL, worst "
           "moved/bound %.3f at N=%zu; ovs %zu rows over the bound\n\n",
           fails, rows, worst_ratio, worst_n, ovs_fails);
}

/* A seeded sequence of adds, removals and reweights (weights 1-4, at most
 * 64 backends so that OVS keeps a dp_hash table), on both. */
static void
sequence(int ops, uint32_t seed)
{
    static struct slots_backend b[64];
    struct map s = { NULL, SLOTS_MIN, false }, o = { NULL, 0, true };
    size_t n = 0, steps = 0, max_matches = 0, max_n = 0;
    uint32_t next_id = 1, max_m = 0, ovs_max_m = 0;
    double worst = 0, sum_moved = 0, sum_ideal = 0, o_worst = 0;
    double o_sum_moved = 0, o_sum_ideal = 0, sum_m = 0, ovs_sum_m = 0;
    uint64_t sum_matches = 0, sum_least = 0;
    size_t over_one = 0, o_over_one = 0;
    double worst_dev = 0, worst_mm = 0;

    s.t = xzalloc_or_die(SLOTS_MAX * sizeof *s.t);
    for (uint32_t i = 0; i < SLOTS_MAX; i++) {
        s.t[i] = SLOTS_NONE;
    }
    rng = seed;
    for (int step = 0; step < ops; step++) {
        uint32_t op = next_random() % 10;
        struct map s2, o2;
        double moved, ideal;

        if (op < 4 && n < 64) {
            b[n].id = next_id++;
            b[n].weight = 1 + next_random() % 4;
            n++;
        } else if (op < 7 && n > 1) {
            size_t v = next_random() % n;
            memmove(b + v, b + v + 1, (n - v - 1) * sizeof *b);
            n--;
        } else if (n) {
            b[next_random() % n].weight = 1 + next_random() % 4;
        } else {
            continue;
        }
        s2 = map_copy(&s);
        slots_change(&s2, b, n);
        o2 = ovs_map(b, n);
        if (s.t[0] != SLOTS_NONE) {
            compare(&s, &s2, &moved, &ideal);
            sum_moved += moved;
            sum_ideal += ideal;
            if (ideal > 0) {
                worst = moved / ideal > worst ? moved / ideal : worst;
            }
            over_one += moved > ideal + 1e-12;
            if (!o.hrw && !o2.hrw) {
                compare(&o, &o2, &moved, &ideal);
                o_sum_moved += moved;
                o_sum_ideal += ideal;
                if (ideal > 0) {
                    o_worst = moved / ideal > o_worst ? moved / ideal
                                                      : o_worst;
                }
                o_over_one += moved > ideal + 1e-12;
            }
            steps++;
        }
        map_free(&s);
        map_free(&o);
        s = s2;
        o = o2;

        /* Quotas stay where they are within the targets (slots.c,
         * quotas()): the shares after each step, not only from empty. */
        double mm, dev;
        bool equal = true;
        for (size_t i = 1; i < n; i++) {
            equal = equal && b[i].weight == b[0].weight;
        }
        shares(&s, b, n, &mm, &dev);
        if (equal) {
            worst_mm = mm > worst_mm ? mm : worst_mm;
        } else {
            worst_dev = dev > worst_dev ? dev : worst_dev;
        }

        size_t mt = matches(&s);
        sum_matches += mt;
        sum_least += least_matches(&s, b, n);
        max_matches = mt > max_matches ? mt : max_matches;
        sum_m += s.m;
        max_m = s.m > max_m ? s.m : max_m;
        ovs_sum_m += o.m;
        ovs_max_m = o.m > ovs_max_m ? o.m : ovs_max_m;
        max_n = n > max_n ? n : max_n;
    }
    printf("== random sequence: %d adds/removals/reweights (seed %"PRIu32
           ", weights 1-4, up to %zu backends) ==\n", ops, seed, max_n);
    printf("moved = fraction of the hash space that changed backend; "
           "ideal = the least the new shares imply\n");
    printf("%-10s | %12s %12s %14s %16s\n", "", "mean moved", "mean ideal",
           "worst mv/ideal", "steps mv>ideal");
    printf("%-10s | %11.2f%% %11.2f%% %14.2f %9zu of %zu\n", "ovs",
           o_sum_moved / steps * 100, o_sum_ideal / steps * 100, o_worst,
           o_over_one, steps);
    printf("%-10s | %11.2f%% %11.2f%% %14.2f %9zu of %zu\n", "mslb",
           sum_moved / steps * 100, sum_ideal / steps * 100, worst,
           over_one, steps);
    printf("shares after each step: unequal weights worst |share/exact - 1| "
           "%.2f%% (target 2%%); equal weights worst max/mean %.4f "
           "(target 1.02)\n", worst_dev * 100, worst_mm);
    printf("summary sequence: mslb worst moved/ideal %.3f; slots per "
           "table mean %.0f max %u; compressed matches mean %.1f max %zu "
           "(no fewer than %.1f: the set bits of the counts); ovs hash "
           "values mean %.0f max %u\n\n", worst, sum_m / ops, max_m,
           (double) sum_matches / ops, max_matches,
           (double) sum_least / ops, ovs_sum_m / ops, ovs_max_m);
    map_free(&s);
    map_free(&o);
}

static void
timing(void)
{
    static struct slots_backend b[1025];
    const size_t n = 1024;
    const int reps = 20;
    uint32_t *t = xzalloc_or_die(SLOTS_MAX * sizeof *t);
    uint32_t m;
    double t0, scratch = 0, change = 0, comp = 0;

    equal_backends(b, n, 1);
    m = slots_size(b, n);
    for (int r = 0; r < reps; r++) {
        for (uint32_t s = 0; s < m; s++) {
            t[s] = SLOTS_NONE;
        }
        t0 = now();
        slots_assign(t, m, b, n);
        scratch += now() - t0;
    }
    /* Changes in place: one backend away and back, and a reweight. */
    for (int r = 0; r < reps; r++) {
        t0 = now();
        slots_assign(t, m, b, n - 1);
        slots_assign(t, m, b, n);
        b[r % n].weight = 2;
        slots_assign(t, m, b, n);
        b[r % n].weight = 1;
        slots_assign(t, m, b, n);
        change += now() - t0;
    }
    for (int r = 0; r < reps; r++) {
        t0 = now();
        slots_compress(t, m, count_matches_cb, NULL);
        comp += now() - t0;
    }
    printf("== time and memory, N=1024 equal backends, %u slots ==\n", m);
    printf("summary time: slots_assign from empty %.0f us, one change in "
           "place %.0f us, slots_compress %.0f us (mean of %d)\n",
           scratch / reps * 1e6, change / (4 * reps) * 1e6,
           comp / reps * 1e6, reps);
    printf("summary memory: table %u slots x 4 bytes = %u KiB per service "
           "(%u KiB at SLOTS_MAX); slots_assign's scratch, freed on "
           "return: 8 bytes per slot (its heap) and ~40 bytes per backend "
           "and per block; ovs hash map at most %d pointers (%d KiB)\n",
           m, m * 4 / 1024, SLOTS_MAX * 4 / 1024, OVS_MAX_HASH,
           OVS_MAX_HASH * 8 / 1024);
    free(t);
}

int
main(int argc, char *argv[])
{
    bool only_sequence = argc > 1 && !strcmp(argv[1], "--sequence");
    int base = only_sequence ? 2 : 1;
    int ops = argc > base ? atoi(argv[base]) : 1000;
    uint32_t seed = argc > base + 1 ? strtoul(argv[base + 1], NULL, 0) : 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!only_sequence) {
        balance();
        weights();
        disruption();
    }
    sequence(ops > 0 ? ops : 1000, seed ? seed : 2024);
    if (!only_sequence) {
        timing();
    }
    return 0;
}
