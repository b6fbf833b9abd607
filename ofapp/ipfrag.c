/* IP fragments as bytes: see ipfrag.h. */
#include <config.h>
#include "ipfrag.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "csum.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "util.h"

#define IP4_MAX 65535

size_t
ipfrag_l3_offset(const uint8_t *pkt, size_t len, uint16_t *type)
{
    size_t ofs = 12;

    while (ofs + 2 <= len) {
        uint16_t t = (pkt[ofs] << 8) | pkt[ofs + 1];
        if (t == ETH_TYPE_VLAN_8021Q || t == ETH_TYPE_VLAN_8021AD) {
            ofs += 4;
            continue;
        }
        *type = t;
        return ofs + 2;
    }
    return 0;
}

static uint16_t
get16(const uint8_t *p)
{
    return (p[0] << 8) | p[1];
}

static void
put16(uint8_t *p, uint16_t x)
{
    p[0] = x >> 8;
    p[1] = x & 0xff;
}

static bool
is_ext6(uint8_t nh)
{
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING
           || nh == IPPROTO_DSTOPTS;
}

/* IPv6: walks the extension headers of 'ip' ('len' bytes) from next header
 * '*nh' at offset '*p' while they are hop-by-hop, routing or destination
 * options; '*nh_at' is the offset of the next-header byte naming '*nh'. */
static bool
skip_ext6(const uint8_t *ip, size_t len, uint8_t *nh, size_t *p,
          size_t *nh_at)
{
    while (is_ext6(*nh)) {
        size_t ext;

        if (*p + 8 > len) {
            return false;
        }
        ext = (ip[*p + 1] + 1) * 8;
        if (*p + ext > len) {
            return false;
        }
        *nh_at = *p;
        *nh = ip[*p];
        *p += ext;
    }
    return true;
}

bool
ipfrag_parse(const uint8_t *pkt, size_t len, struct ipfrag *f)
{
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type);
    const uint8_t *ip = pkt + l3;

    memset(f, 0, sizeof *f);
    if (!l3) {
        return false;
    }
    f->l3 = l3;
    if (type == ETH_TYPE_IP && len >= l3 + 20 && (ip[0] >> 4) == 4) {
        size_t ihl = (ip[0] & 0xf) * 4;
        size_t tot = get16(ip + 2);
        uint16_t frag = get16(ip + 6);

        if (ihl < 20 || tot < ihl || l3 + tot > len
            || !(frag & 0x3fff)) {
            return false;
        }
        f->family = AF_INET;
        memcpy(f->src, ip + 12, 4);
        memcpy(f->dst, ip + 16, 4);
        f->id = get16(ip + 4);
        f->proto = ip[9];
        f->unfrag = ihl;
        f->offset = (frag & 0x1fff) * 8;
        f->more = (frag & 0x2000) != 0;
        f->data = l3 + ihl;
        f->len = tot - ihl;
        return f->offset + f->len <= IP4_MAX;
    }
    if (type == ETH_TYPE_IPV6 && len >= l3 + 40 && (ip[0] >> 4) == 6) {
        size_t ip_len = 40 + get16(ip + 4);
        size_t p = 40, nh_at = 6;
        uint8_t nh = ip[6];
        uint16_t offlg;

        if (l3 + ip_len > len || !skip_ext6(ip, ip_len, &nh, &p, &nh_at)
            || nh != IPPROTO_FRAGMENT || p + 8 > ip_len) {
            return false;
        }
        offlg = get16(ip + p + 2);
        if (!(offlg & 0xfff9)) {
            return false;       /* An atomic fragment is no fragment. */
        }
        f->family = AF_INET6;
        memcpy(f->src, ip + 8, 16);
        memcpy(f->dst, ip + 24, 16);
        f->id = ((uint32_t) get16(ip + p + 4) << 16) | get16(ip + p + 6);
        f->proto = ip[p];
        f->unfrag = p;
        f->offset = offlg & 0xfff8;
        f->more = (offlg & 1) != 0;
        f->data = l3 + p + 8;
        f->len = ip_len - p - 8;
        return f->offset + f->len <= IP4_MAX;
    }
    return false;
}

bool
ipfrag_upper(const uint8_t *pkt, const struct ipfrag *f, uint8_t *proto,
             size_t *l4)
{
    const uint8_t *data = pkt + f->data;
    size_t p = 0, nh_at = 0;
    uint8_t nh = f->proto;

    if (f->offset) {
        return false;
    }
    if (f->family == AF_INET6 && !skip_ext6(data, f->len, &nh, &p, &nh_at)) {
        return false;
    }
    if (p + 4 > f->len) {
        return false;
    }
    *proto = nh;
    *l4 = f->data + p;
    return true;
}

static int
compare_offsets(const void *a_, const void *b_)
{
    const struct ipfrag *a = a_, *b = b_;

    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

bool
ipfrag_reassemble(const uint8_t *const *frames, const size_t *lens,
                  size_t n, struct ofpbuf *out)
{
    struct ipfrag *fs;
    const uint8_t *first = NULL;
    size_t next = 0, i;
    bool ok = n > 0;

    fs = xcalloc(MAX(n, 1), sizeof *fs);
    for (i = 0; ok && i < n; i++) {
        ok = ipfrag_parse(frames[i], lens[i], &fs[i]);
        fs[i].l3 = (size_t) i;      /* Reused: the frame's index. */
        ok = ok && fs[i].family == fs[0].family && fs[i].id == fs[0].id
             && fs[i].proto == fs[0].proto
             && !memcmp(fs[i].src, fs[0].src, 16)
             && !memcmp(fs[i].dst, fs[0].dst, 16);
    }
    if (ok) {
        qsort(fs, n, sizeof *fs, compare_offsets);
        for (i = 0; ok && i < n; i++) {
            ok = fs[i].offset == next && (fs[i].more || i == n - 1)
                 && (fs[i].len % 8 == 0 || !fs[i].more);
            next += fs[i].len;
        }
        ok = ok && !fs[n - 1].more && fs[0].offset == 0;
    }
    if (ok) {
        struct ipfrag head;
        size_t l3, start;
        uint8_t *ip;

        first = frames[fs[0].l3];
        ipfrag_parse(first, lens[fs[0].l3], &head);
        l3 = head.l3;
        if (head.unfrag + next > IP4_MAX + (head.family == AF_INET6 ? 40 : 0)) {
            free(fs);
            return false;
        }
        start = out->size;
        ofpbuf_put(out, first, l3 + head.unfrag);
        for (i = 0; i < n; i++) {
            const uint8_t *fr = frames[fs[i].l3];
            struct ipfrag f;

            ipfrag_parse(fr, lens[fs[i].l3], &f);
            ofpbuf_put(out, fr + f.data, f.len);
        }
        ip = (uint8_t *) out->data + start + l3;
        if (head.family == AF_INET) {
            put16(ip + 2, head.unfrag + next);
            put16(ip + 6, get16(ip + 6) & 0x4000);   /* Keeps DF. */
            put16(ip + 10, 0);
            ovs_be16 c = csum(ip, head.unfrag);
            memcpy(ip + 10, &c, 2);
        } else {
            /* The header that named the fragment header now names what
             * followed it. */
            size_t p = 40, nh_at = 6;
            uint8_t nh = ip[6];

            skip_ext6(ip, head.unfrag, &nh, &p, &nh_at);
            ip[nh_at] = head.proto;
            put16(ip + 4, head.unfrag - 40 + next);
        }
    }
    free(fs);
    return ok;
}

bool
ipfrag_split(const void *pkt_, size_t len, int mtu, uint32_t id6,
             void (*cb)(void *aux, const void *frag, size_t len),
             void *aux)
{
    const uint8_t *pkt = pkt_;
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type);
    const uint8_t *ip = pkt + l3;
    size_t data, step, off;
    uint8_t *buf;

    if (l3 && type == ETH_TYPE_IP && len >= l3 + 20) {
        size_t ihl = (ip[0] & 0xf) * 4;
        size_t tot = get16(ip + 2);
        uint16_t frag = get16(ip + 6);

        if (ihl < 20 || tot < ihl || l3 + tot > len || (frag & 0x4000)
            || mtu < (int) ihl + 8) {
            return false;
        }
        data = tot - ihl;
        step = (mtu - ihl) & ~7u;
        buf = xmalloc(l3 + ihl + step);
        for (off = 0; off < data; off += step) {
            size_t n = MIN(step, data - off);
            bool more = off + n < data || (frag & 0x2000);
            uint16_t fo = ((frag & 0x1fff) + off / 8) | (more ? 0x2000 : 0);
            uint8_t *h = buf + l3;

            /* Every fragment gets the whole header, options included (RFC
             * 791 copies only some options; rare on client traffic). */
            memcpy(buf, pkt, l3 + ihl);
            put16(h + 2, ihl + n);
            put16(h + 6, fo);
            put16(h + 10, 0);
            ovs_be16 c = csum(h, ihl);
            memcpy(h + 10, &c, 2);
            memcpy(h + ihl, ip + ihl + off, n);
            cb(aux, buf, l3 + ihl + n);
        }
        free(buf);
        return true;
    }
    if (l3 && type == ETH_TYPE_IPV6 && len >= l3 + 40) {
        size_t ip_len = 40 + get16(ip + 4);

        if (l3 + ip_len > len || mtu < 40 + 8 + 8
            || ip[6] == IPPROTO_FRAGMENT) {
            return false;
        }
        data = ip_len - 40;
        step = (mtu - 40 - 8) & ~7u;
        buf = xmalloc(l3 + 48 + step);
        for (off = 0; off < data; off += step) {
            size_t n = MIN(step, data - off);
            bool more = off + n < data;
            uint8_t *h = buf + l3;

            /* Extension headers, if any, travel in the first fragment's
             * data: right for what the balancer itself sends. */
            memcpy(buf, pkt, l3 + 40);
            put16(h + 4, 8 + n);
            h[6] = IPPROTO_FRAGMENT;
            h[40] = ip[6];
            h[41] = 0;
            put16(h + 42, off | (more ? 1 : 0));
            put16(h + 44, id6 >> 16);
            put16(h + 46, id6 & 0xffff);
            memcpy(h + 48, ip + 40 + off, n);
            cb(aux, buf, l3 + 48 + n);
        }
        free(buf);
        return true;
    }
    return false;
}

bool
ipfrag_echo_reply(const uint8_t *pkt, size_t len, const uint8_t mac[6],
                  struct ofpbuf *out)
{
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type);
    const uint8_t *ip = pkt + l3;
    uint8_t *h;

    if (!l3) {
        return false;
    }
    if (type == ETH_TYPE_IP && len >= l3 + 20) {
        size_t ihl = (ip[0] & 0xf) * 4;
        size_t tot = get16(ip + 2);

        if (ihl < 20 || tot < ihl + 8 || l3 + tot > len
            || ip[9] != IPPROTO_ICMP || ip[ihl] != 8 || ip[ihl + 1] != 0
            || (get16(ip + 6) & 0x3fff)) {
            return false;
        }
        size_t n = tot - ihl;
        h = ofpbuf_put_uninit(out, 14 + 20 + n);
        memcpy(h, pkt + 6, 6);
        memcpy(h + 6, mac, 6);
        put16(h + 12, ETH_TYPE_IP);
        h += 14;
        memset(h, 0, 20);
        h[0] = 0x45;
        h[1] = ip[1];
        put16(h + 2, 20 + n);
        memcpy(h + 4, ip + 4, 2);           /* The request's id. */
        h[8] = 64;
        h[9] = IPPROTO_ICMP;
        memcpy(h + 12, ip + 16, 4);
        memcpy(h + 16, ip + 12, 4);
        ovs_be16 c = csum(h, 20);
        memcpy(h + 10, &c, 2);
        memcpy(h + 20, ip + ihl, n);
        h[20] = 0;                          /* Echo reply. */
        put16(h + 22, 0);
        c = csum(h + 20, n);
        memcpy(h + 22, &c, 2);
        return true;
    }
    if (type == ETH_TYPE_IPV6 && len >= l3 + 48) {
        size_t plen = get16(ip + 4);
        uint32_t partial = 0;
        ovs_be32 be;

        if (l3 + 40 + plen > len || plen < 8 || ip[6] != IPPROTO_ICMPV6
            || ip[40] != 128 || ip[41] != 0) {
            return false;
        }
        h = ofpbuf_put_uninit(out, 14 + 40 + plen);
        memcpy(h, pkt + 6, 6);
        memcpy(h + 6, mac, 6);
        put16(h + 12, ETH_TYPE_IPV6);
        h += 14;
        memcpy(h, ip, 4);                   /* Version, class, label. */
        put16(h + 4, plen);
        h[6] = IPPROTO_ICMPV6;
        h[7] = 64;
        memcpy(h + 8, ip + 24, 16);
        memcpy(h + 24, ip + 8, 16);
        memcpy(h + 40, ip + 40, plen);
        h[40] = 129;                        /* Echo reply. */
        put16(h + 42, 0);
        partial = csum_continue(partial, h + 8, 32);
        be = htonl(plen);
        partial = csum_continue(partial, &be, 4);
        be = htonl(IPPROTO_ICMPV6);
        partial = csum_continue(partial, &be, 4);
        partial = csum_continue(partial, h + 40, plen);
        ovs_be16 c = csum_finish(partial);
        memcpy(h + 42, &c, 2);
        return true;
    }
    return false;
}
