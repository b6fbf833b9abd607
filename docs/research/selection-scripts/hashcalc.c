/* Reads "src dst proto sport dport" lines (IPv4), prints the userspace
 * datapath's dp_hash for OVS_HASH_ALG_SYM_L4 and OVS_HASH_ALG_L4 (no RSS
 * from the NIC: RSS = miniflow_hash_5tuple(...,0), then hash_int(rss, basis)). */
#include <config.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "flow.h"
#include "hash.h"
#include "openvswitch/types.h"

int
main(int argc, char *argv[])
{
    uint32_t basis = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
    char s[64], d[64];
    unsigned proto, sp, dp;
    while (scanf("%63s %63s %u %u %u", s, d, &proto, &sp, &dp) == 5) {
        struct flow flow;
        memset(&flow, 0, sizeof flow);
        flow.dl_type = htons(0x0800);
        inet_pton(AF_INET, s, &flow.nw_src);
        inet_pton(AF_INET, d, &flow.nw_dst);
        flow.nw_proto = proto;
        flow.tp_src = htons(sp);
        flow.tp_dst = htons(dp);
        uint32_t sym = flow_hash_symmetric_l3l4(&flow, basis, false);
        uint32_t rss = flow_hash_5tuple(&flow, 0);
        uint32_t l4 = hash_int(rss, basis);
        printf("%s %s %u %u %u sym=0x%08x l4=0x%08x\n", s, d, proto, sp, dp, sym, l4);
    }
    return 0;
}
