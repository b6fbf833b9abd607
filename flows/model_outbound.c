/* A service's outbound SNAT (mode slb): its "outbound" member and the port
 * blocks given out to its hosts.  See model.h and docs/slb.md. */
#include "model-private.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mslb/xalloc.h"

static bool
is_pow2(long long n)
{
    return n > 0 && !(n & (n - 1));
}

/* "ADDR/LEN" or "ADDR" (a host) into 'p', host bits cleared; false if it
 * is not one. */
static bool
parse_prefix(const char *s, struct model_prefix *p)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t) (slash - s) : strlen(s);
    int max;

    if (n >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!mslb_addr_parse(buf, &p->addr)) {
        return false;
    }
    max = p->addr.family == AF_INET ? 32 : 128;
    if (slash) {
        char *end;
        long len;

        errno = 0;
        len = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || len < 0 || len > max) {
            return false;
        }
        p->len = len;
    } else {
        p->len = max;
    }

    uint8_t *b = p->addr.family == AF_INET ? (uint8_t *) &p->addr.v4
                                           : (uint8_t *) &p->addr.v6;
    for (int bit = p->len; bit < max; bit++) {
        b[bit / 8] &= ~(0x80 >> (bit % 8));
    }
    return true;
}

static void
format_prefix(const struct model_prefix *p, char *buf, size_t size)
{
    char a[64];

    mslb_addr_format(&p->addr, a, sizeof a);
    snprintf(buf, size, "%s/%u", a, p->len);
}

/* The host bridges that have a backend of 'svc', sorted, without
 * repeats ('*n' of them; the names are the backends'). */
static const char **
hosting_bridges(const struct model_service *svc, size_t *n)
{
    const char **names = mslb_xzalloc((svc->n_backends + 1) * sizeof *names);
    size_t k = 0;

    for (size_t i = 0; i < svc->n_backends; i++) {
        const char *name = svc->backends[i].host_bridge;
        size_t at = 0;

        if (!name) {
            continue;
        }
        while (at < k && strcmp(names[at], name) < 0) {
            at++;
        }
        if (at < k && !strcmp(names[at], name)) {
            continue;
        }
        memmove(&names[at + 1], &names[at], (k - at) * sizeof *names);
        names[at] = name;
        k++;
    }
    *n = k;
    return names;
}

static size_t
n_slots(const struct model_outbound *o)
{
    return ((size_t) o->port_hi - o->port_lo + 1) / o->block;
}

/* Marks the blocks of 'o' in 'used' (one byte per block of the range). */
static uint8_t *
used_map(const struct model_outbound *o)
{
    uint8_t *used = mslb_xzalloc(n_slots(o) + 1);

    for (size_t i = 0; i < o->n_blocks; i++) {
        used[(o->blocks[i].start - o->port_lo) / o->block] = 1;
    }
    return used;
}

static bool
give_block(struct model_outbound *o, uint8_t *used, const char *bridge)
{
    size_t n = n_slots(o);

    for (size_t i = 0; i < n; i++) {
        if (!used[i]) {
            used[i] = 1;
            o->blocks = mslb_xrealloc(o->blocks,
                                      (o->n_blocks + 1) * sizeof *o->blocks);
            o->blocks[o->n_blocks++] = (struct model_snat_block) {
                .start = o->port_lo + i * o->block,
                .host_bridge = mslb_xstrdup(bridge),
            };
            return true;
        }
    }
    return false;
}

void
model_snat_blocks_free(struct model_snat_block *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].host_bridge);
    }
    free(b);
}

void
model_outbound_fit(struct model_service *svc,
                   const struct model_snat_block *prev, size_t n)
{
    struct model_outbound *o = svc->outbound;
    size_t n_hosts;
    const char **hosts = hosting_bridges(svc, &n_hosts);
    struct model_snat_block *old = o->blocks;
    size_t n_old = o->n_blocks;
    uint8_t *used = mslb_xzalloc(n_slots(o) + 1);

    o->blocks = NULL;
    o->n_blocks = 0;
    for (size_t i = 0; i < n; i++) {
        const struct model_snat_block *b = &prev[i];
        bool hosted = false;

        for (size_t k = 0; k < n_hosts && !hosted; k++) {
            hosted = !strcmp(hosts[k], b->host_bridge);
        }
        if (!hosted || b->start < o->port_lo || b->start > o->port_hi
            || (b->start - o->port_lo) % o->block
            || used[(b->start - o->port_lo) / o->block]) {
            continue;
        }
        used[(b->start - o->port_lo) / o->block] = 1;
        o->blocks = mslb_xrealloc(o->blocks,
                                  (o->n_blocks + 1) * sizeof *o->blocks);
        o->blocks[o->n_blocks++] = (struct model_snat_block) {
            .start = b->start, .host_bridge = mslb_xstrdup(b->host_bridge),
        };
    }
    for (size_t k = 0; k < n_hosts; k++) {
        if (!model_outbound_newest(o, hosts[k])) {
            give_block(o, used, hosts[k]);
        }
    }
    model_snat_blocks_free(old, n_old);
    free(used);
    free(hosts);
}

bool
model_outbound_grow(struct model_service *svc, const char *bridge)
{
    uint8_t *used = used_map(svc->outbound);
    bool ok = give_block(svc->outbound, used, bridge);

    free(used);
    return ok;
}

const struct model_snat_block *
model_outbound_newest(const struct model_outbound *o, const char *bridge)
{
    for (size_t i = o->n_blocks; i-- > 0;) {
        if (!strcmp(o->blocks[i].host_bridge, bridge)) {
            return &o->blocks[i];
        }
    }
    return NULL;
}

size_t
model_outbound_count(const struct model_outbound *o, const char *bridge)
{
    size_t n = 0;

    for (size_t i = 0; i < o->n_blocks; i++) {
        n += !strcmp(o->blocks[i].host_bridge, bridge);
    }
    return n;
}

char *
model_outbound_blocks_format(const struct model_outbound *o)
{
    size_t size = 1;
    char *s, *p;

    for (size_t i = 0; i < o->n_blocks; i++) {
        size += strlen(o->blocks[i].host_bridge) + 8;
    }
    p = s = mslb_xzalloc(size);
    for (size_t i = 0; i < o->n_blocks; i++) {
        p += sprintf(p, "%s%u:%s", i ? " " : "", o->blocks[i].start,
                     o->blocks[i].host_bridge);
    }
    return s;
}

bool
model_outbound_blocks_parse(const char *text, struct model_snat_block **bp,
                            size_t *np)
{
    char *copy = mslb_xstrdup(text), *save = NULL;
    struct model_snat_block *b = NULL;
    size_t n = 0;
    bool ok = true;

    for (char *tok = strtok_r(copy, " ", &save); tok && ok;
         tok = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(tok, ':'), *end;
        long start;

        errno = 0;
        start = colon ? strtol(tok, &end, 10) : -1;
        if (!colon || errno || end != colon || start < 1 || start > 65535
            || !model_name_ok(colon + 1, 63)) {
            ok = false;
            break;
        }
        b = mslb_xrealloc(b, (n + 1) * sizeof *b);
        b[n++] = (struct model_snat_block) {
            .start = start, .host_bridge = mslb_xstrdup(colon + 1),
        };
    }
    free(copy);
    if (!ok) {
        model_snat_blocks_free(b, n);
        b = NULL;
        n = 0;
    }
    *bp = b;
    *np = n;
    return ok;
}

struct model_outbound *
model_outbound_clone(const struct model_outbound *src)
{
    struct model_outbound *o;

    if (!src) {
        return NULL;
    }
    o = mslb_xzalloc(sizeof *o);
    *o = *src;
    o->exclude = mslb_xzalloc((src->n_exclude + 1) * sizeof *o->exclude);
    memcpy(o->exclude, src->exclude, src->n_exclude * sizeof *o->exclude);
    o->blocks = mslb_xzalloc((src->n_blocks + 1) * sizeof *o->blocks);
    for (size_t i = 0; i < src->n_blocks; i++) {
        o->blocks[i].start = src->blocks[i].start;
        o->blocks[i].host_bridge = mslb_xstrdup(src->blocks[i].host_bridge);
    }
    return o;
}

void
model_outbound_destroy(struct model_outbound *o)
{
    if (o) {
        free(o->exclude);
        model_snat_blocks_free(o->blocks, o->n_blocks);
        free(o);
    }
}

json_t *
model_outbound_to_json(const struct model_outbound *o)
{
    json_t *exclude = json_array(), *blocks = json_array();
    char buf[64];

    mslb_addr_format(&o->ip, buf, sizeof buf);
    json_t *j = json_pack("{s:s, s:i}", "ip", buf, "block", (int) o->block);
    snprintf(buf, sizeof buf, "%u-%u", o->port_lo, o->port_hi);
    json_object_set_new(j, "ports", json_string(buf));
    for (size_t i = 0; i < o->n_exclude; i++) {
        format_prefix(&o->exclude[i], buf, sizeof buf);
        json_array_append_new(exclude, json_string(buf));
    }
    if (o->n_exclude) {
        json_object_set_new(j, "exclude", exclude);
    } else {
        json_decref(exclude);
    }
    for (size_t i = 0; i < o->n_blocks; i++) {
        const struct model_snat_block *b = &o->blocks[i];
        json_array_append_new(blocks, json_pack(
            "{s:i, s:i, s:s}", "start", (int) b->start, "end",
            (int) (b->start + o->block - 1), "host_bridge", b->host_bridge));
    }
    json_object_set_new(j, "blocks", blocks);
    return j;
}

uint32_t
model_outbound_hash(const struct model_outbound *o, uint32_t h)
{
    if (!o) {
        return mslb_hash_bytes("", 1, h);
    }
    h = mslb_hash_bytes(&o->ip, sizeof o->ip, h);
    h = mslb_hash_bytes(&o->port_lo, sizeof o->port_lo, h);
    h = mslb_hash_bytes(&o->port_hi, sizeof o->port_hi, h);
    h = mslb_hash_bytes(&o->block, sizeof o->block, h);
    for (size_t i = 0; i < o->n_exclude; i++) {
        h = mslb_hash_bytes(&o->exclude[i], sizeof o->exclude[i], h);
    }
    for (size_t i = 0; i < o->n_blocks; i++) {
        const struct model_snat_block *b = &o->blocks[i];
        h = mslb_hash_bytes(&b->start, sizeof b->start, h);
        h = mslb_hash_bytes(b->host_bridge, strlen(b->host_bridge) + 1, h);
    }
    return h;
}

/* The blocks a document carries: [{"start", "host_bridge"}, ...]. */
static char *
parse_blocks(const json_t *arr, const char *path,
             struct model_snat_block **bp, size_t *np)
{
    static const char *const keys[] = { "start", "end", "host_bridge",
                                        NULL };
    struct model_snat_block *b = mslb_xzalloc((json_array_size(arr) + 1)
                                              * sizeof *b);
    size_t n = 0;
    char sub[512];
    char *error = NULL;

    for (size_t i = 0; i < json_array_size(arr) && !error; i++) {
        const json_t *e = json_array_get(arr, i);
        const char *name;
        long long start;

        model_path_index(sub, sizeof sub, path, "blocks", i);
        if (!json_is_object(e)) {
            error = model_error(sub, "must be an object");
        } else if (!(error = model_check_keys(e, sub, keys))
                   && !(error = model_get_int(e, sub, "start", true, 1,
                                              65535, 0, &start))
                   && !(error = model_get_string(e, sub, "host_bridge",
                                                 true, &name))) {
            b[n].start = start;
            b[n++].host_bridge = mslb_xstrdup(name);
        }
    }
    if (error) {
        model_snat_blocks_free(b, n);
        b = NULL;
        n = 0;
    }
    *bp = b;
    *np = n;
    return error;
}

char *
model_parse_outbound(const json_t *j, const char *path,
                     struct model_service *svc)
{
    static const char *const keys[] = {
        "ip", "ports", "block", "exclude", "blocks", NULL
    };
    const json_t *v = json_object_get(j, "outbound");
    struct model_outbound *o;
    char sub[512];
    const char *s;
    long long block;
    json_t *arr;
    char *error;

    if (!v) {
        return NULL;
    }
    model_path_key(sub, sizeof sub, path, "outbound");
    if (svc->mode != MODEL_MODE_SLB) {
        return model_error(sub, "only for mode slb");
    }
    if (!json_is_object(v)) {
        return model_error(sub, "must be an object");
    }
    if ((error = model_check_keys(v, sub, keys))) {
        return error;
    }
    o = svc->outbound = mslb_xzalloc(sizeof *o);
    o->ip = svc->vip;
    if (json_object_get(v, "ip")
        && (error = model_get_addr(v, sub, "ip", &o->ip))) {
        return error;
    }
    if ((error = model_get_int(v, sub, "block", false, 1, 32768,
                               MODEL_OUTBOUND_BLOCK, &block))) {
        return error;
    }
    if (!is_pow2(block) || block < 8) {
        return model_key_error(sub, "block", "must be a power of two from "
                               "8 to 32768");
    }
    o->block = block;
    o->port_lo = MODEL_OUTBOUND_PORT_LO;
    o->port_hi = MODEL_OUTBOUND_PORT_HI;
    if ((error = model_get_string(v, sub, "ports", false, &s))) {
        return error;
    }
    if (s) {
        unsigned int lo, hi;
        char extra;

        if (sscanf(s, "%u-%u%c", &lo, &hi, &extra) != 2 || !lo || lo > hi
            || hi > 65535) {
            return model_key_error(sub, "ports", "must be \"FIRST-LAST\", "
                                   "1 <= FIRST <= LAST <= 65535");
        }
        o->port_lo = lo;
        o->port_hi = hi;
    }
    if (o->port_lo % o->block || (o->port_hi + 1) % o->block) {
        unsigned int lo = (o->port_lo + o->block - 1) / o->block * o->block;
        unsigned int hi = (o->port_hi + 1) / o->block * o->block - 1;
        return lo < hi
               ? model_key_error(sub, "ports", "must start and end on "
                                 "blocks of %u ports (e.g. %u-%u)", o->block,
                                 lo, hi)
               : model_key_error(sub, "ports", "must start and end on "
                                 "blocks of %u ports", o->block);
    }
    if (mslb_addr_equal(&o->ip, &svc->vip)
        && (!svc->port
            || (svc->port >= o->port_lo && svc->port <= o->port_hi))) {
        return svc->port
               ? model_key_error(sub, "ports", "holds the service's own "
                                 "port %u", svc->port)
               : model_key_error(sub, "ip", "a service of every port "
                                 "cannot share its address with outbound "
                                 "connections: give another \"ip\"");
    }
    for (size_t i = 0; i < svc->n_backends; i++) {
        if (svc->backends[i].ip.family != o->ip.family) {
            return model_key_error(sub, "ip", "is IPv%d but backends[%zu] "
                                   "is not", o->ip.family == AF_INET ? 4 : 6,
                                   i);
        }
    }
    if ((error = model_get_array(v, sub, "exclude", false, &arr))) {
        return error;
    }
    o->exclude = mslb_xzalloc((json_array_size(arr) + 1)
                              * sizeof *o->exclude);
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        struct model_prefix *p = &o->exclude[o->n_exclude];
        char at[600];

        model_path_index(at, sizeof at, sub, "exclude", i);
        if (!json_is_string(e) || !parse_prefix(json_string_value(e), p)) {
            return model_error(at, "must be an address or ADDRESS/LENGTH");
        }
        if (p->addr.family != o->ip.family) {
            return model_error(at, "is not of the outbound address's "
                               "family");
        }
        o->n_exclude++;
    }
    if ((error = model_get_array(v, sub, "blocks", false, &arr))) {
        return error;
    }
    struct model_snat_block *prev = NULL;
    size_t n_prev = 0;
    if (arr && (error = parse_blocks(arr, sub, &prev, &n_prev))) {
        return error;
    }
    model_outbound_fit(svc, prev, n_prev);
    model_snat_blocks_free(prev, n_prev);
    return NULL;
}

static bool
ranges_overlap(const struct model_service *svc,
               const struct model_outbound *o)
{
    return mslb_addr_equal(&svc->vip, &o->ip)
           && (!svc->port
               || (svc->port >= o->port_lo && svc->port <= o->port_hi));
}

/* Whether 'a' and 'b' run on the same first-stage bridges (the muxes that
 * answer for an address must all have the answers' flows). */
static bool
same_bridges(const struct model_service *a, const struct model_service *b)
{
    if (a->n_bridges != b->n_bridges) {
        return false;
    }
    for (size_t i = 0; i < a->n_bridges; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n_bridges && !found; k++) {
            found = !strcmp(a->bridges[i], b->bridges[k]);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

char *
model_check_outbound_pair(const struct model_service *a,
                          const struct model_service *b, const char *path)
{
    char sub[512], ip[64];

    model_path_key(sub, sizeof sub, path, "outbound");
    if (a->outbound && b->outbound
        && mslb_addr_equal(&a->outbound->ip, &b->outbound->ip)) {
        mslb_addr_format(&a->outbound->ip, ip, sizeof ip);
        return model_key_error(sub, "ip", "%s is already service \"%s\"'s "
                               "outbound address", ip, b->name);
    }
    if (b->outbound && mslb_addr_equal(&a->vip, &b->outbound->ip)
        && !same_bridges(a, b)) {
        return model_error(path, "its vip is service \"%s\"'s outbound "
                           "address, served by other bridges", b->name);
    }
    if (a->outbound && mslb_addr_equal(&b->vip, &a->outbound->ip)
        && !same_bridges(a, b)) {
        return model_key_error(sub, "ip", "is service \"%s\"'s vip, served "
                               "by other bridges", b->name);
    }
    if (b->outbound && ranges_overlap(a, b->outbound)) {
        return model_error(path, "its address and port are in service "
                           "\"%s\"'s outbound ports", b->name);
    }
    if (a->outbound && ranges_overlap(b, a->outbound)) {
        return model_key_error(sub, "ports", "hold service \"%s\"'s "
                               "address and port", b->name);
    }
    for (size_t i = 0; a->outbound && b->outbound && i < a->n_backends;
         i++) {
        const struct model_backend *x = &a->backends[i];

        for (size_t k = 0; k < b->n_backends; k++) {
            const struct model_backend *y = &b->backends[k];

            if (mslb_addr_equal(&x->ip, &y->ip) && x->host_bridge
                && y->host_bridge && !strcmp(x->host_bridge, y->host_bridge)) {
                mslb_addr_format(&x->ip, ip, sizeof ip);
                return model_key_error(sub, "ip", "backend %s already "
                                       "sends its outbound connections "
                                       "through service \"%s\"", ip,
                                       b->name);
            }
        }
    }
    return NULL;
}
