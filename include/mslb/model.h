/* The service model: bridges, virtual services and their backends.
 *
 * A model is built only by model_from_json()/model_from_file(), which
 * validate the whole document; a model that exists is valid.  It is
 * immutable once built: a change is a new model (see style.md, 13). */
#ifndef MSLB_MODEL_H
#define MSLB_MODEL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
/* jansson's type, declared without jansson.h so that files using OVS's own
 * JSON (the database glue) can include this header. */
typedef struct json_t json_t;

#define MSLB_WARN_UNUSED __attribute__((warn_unused_result))

struct mslb_addr {
    int family;                 /* AF_INET or AF_INET6. */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    };
};

struct mslb_mac {
    uint8_t b[6];
};

enum model_mode {
    MODEL_MODE_NAT,             /* Reverse proxy: DNAT in, SNAT back. */
    MODEL_MODE_DR,              /* L2 DSR: only the destination MAC. */
    MODEL_MODE_TUN,             /* L3 DSR: encapsulated to the server. */
    MODEL_MODE_L3DSR,           /* DSCP names the VIP, dst = server. */
    MODEL_MODE_MSLB,            /* Encapsulated to the final stage, which
                                 * hands the server the original packet. */
    MODEL_MODE_LOCAL,           /* Served by the first stage's own host. */
    MODEL_MODE_SLB,             /* As mslb to the final stage, which
                                 * translates VIP:port to the backend's
                                 * address and port (Azure's host agent). */
};
#define MODEL_N_MODES (MODEL_MODE_SLB + 1)

enum model_tunnel {
    MODEL_TUNNEL_VXLAN,
    MODEL_TUNNEL_GRE,
    MODEL_TUNNEL_GENEVE,
    MODEL_TUNNEL_IPGRE,         /* GRE carrying the IP packet without its
                                 * Ethernet header (an OVS gre port with
                                 * options:packet_type=legacy_l3; Linux
                                 * "gre", not "gretap"): mode tun only. */
};
#define MODEL_N_TUNNELS (MODEL_TUNNEL_IPGRE + 1)

enum model_role {
    MODEL_ROLE_FIRST,           /* Owns VIPs, picks backends. */
    MODEL_ROLE_FINAL,           /* On a server's host: restores. */
};

enum model_backend_state {
    MODEL_BACKEND_UP,           /* Gets new and existing sessions. */
    MODEL_BACKEND_DRAIN,        /* Keeps existing sessions, gets no new. */
    MODEL_BACKEND_DOWN,         /* Gets nothing. */
};

/* A health monitor (docs/health.md): how mslbd probes a backend.  A
 * service's monitor applies to all its backends; a backend's own
 * "monitor" overrides single fields of it (a backend's 'monitor' is the
 * merged result, its 'set' says which fields the backend gave). */
enum model_monitor_type {
    MODEL_MONITOR_NONE,         /* Not probed: always usable. */
    MODEL_MONITOR_TCP,          /* A SYN answered by a SYN-ACK. */
    MODEL_MONITOR_HTTP,         /* A request answered with a status. */
    MODEL_MONITOR_UDP,          /* A datagram answered by one. */
    MODEL_MONITOR_ICMP,         /* An echo request answered. */
};
#define MODEL_N_MONITOR_TYPES (MODEL_MONITOR_ICMP + 1)

/* What an http or udp monitor sends and expects: members of the
 * service's "monitor" only (its backends' probes share them). */
struct model_monitor_request {
    char *method;               /* http: "GET" or "HEAD". */
    char *path;                 /* http: "/...". */
    char *host;                 /* http: the Host header, or NULL: the
                                 * address probed. */
    char *status;               /* http: accepted codes, "200-399,401". */
    uint64_t codes[8];          /* http: 'status' as a bitmap of 0..511. */
    char *body;                 /* http: a substring the answer must
                                 * hold, or NULL. */
    char *send;                 /* udp: the datagram's payload. */
    char *expect;               /* udp: a substring the answer must hold,
                                 * or NULL: any answer. */
};

enum {                          /* Bits of model_monitor.set. */
    MODEL_MONITOR_F_TYPE = 1 << 0,
    MODEL_MONITOR_F_PORT = 1 << 1,
    MODEL_MONITOR_F_INTERVAL = 1 << 2,
    MODEL_MONITOR_F_TIMEOUT = 1 << 3,
    MODEL_MONITOR_F_RISE = 1 << 4,
    MODEL_MONITOR_F_FALL = 1 << 5,
    MODEL_MONITOR_F_SESSIONS = 1 << 6,
};

#define MODEL_MONITOR_INTERVAL_MS 5000  /* Defaults. */
#define MODEL_MONITOR_TIMEOUT_MS 2000
#define MODEL_MONITOR_RISE 2
#define MODEL_MONITOR_FALL 3

struct model_monitor {
    enum model_monitor_type type;
    uint16_t port;              /* 0: the backend's port, else the
                                 * service's. */
    uint32_t interval_ms;       /* 100 .. 3,600,000. */
    uint32_t timeout_ms;        /* 50 .. interval_ms. */
    uint8_t rise, fall;         /* 1 .. 100. */
    bool reset_sessions;        /* "sessions": "reset": a failed backend's
                                 * established sessions are reset, not
                                 * kept. */
    uint8_t set;                /* MODEL_MONITOR_F_*: given, not default. */
};

struct model_backend {
    char *name;
    struct mslb_addr ip;
    uint16_t port;
    bool has_mac;
    bool mac_unused;            /* has_mac without a MAC: mode tun over
                                 * ipgre, where no frame carries it. */
    struct mslb_mac mac;
    uint32_t weight;            /* 1 .. MODEL_MAX_WEIGHT. */
    enum model_backend_state state;
    struct mslb_addr host;      /* Tunnel endpoint (tun, mslb); family 0 if
                                 * none given (tun: the server itself). */
    char *host_bridge;          /* Final-stage bridge (mslb, l3dsr), or
                                 * NULL. */
    uint32_t key;               /* Nonzero id, stable: from ip and port. */
    struct model_monitor monitor;       /* Merged over the service's. */
    bool failed;                /* Runtime, never stored: its monitor says
                                 * it is down (set only in the copy the
                                 * engine compiles, ofapp/lbengine.c). */
};

#define MODEL_MAX_WEIGHT 10000
#define MODEL_MAX_BACKENDS 1024

/* What a service's new sessions are spread by (docs/selection.md). */
enum model_distribution {
    MODEL_DIST_5TUPLE,          /* Addresses, protocol and ports. */
    MODEL_DIST_3TUPLE,          /* Addresses and protocol. */
    MODEL_DIST_2TUPLE,          /* Addresses. */
};
#define MODEL_N_DISTRIBUTIONS (MODEL_DIST_2TUPLE + 1)

/* A slot that changed hands while its old backend still has sessions: in
 * the DSR modes, for a while, connections that were already open keep
 * 'from' and new ones get the slot's new owner (docs/selection.md). */
struct model_slot_move {
    uint32_t slot;
    uint32_t from;              /* Backend key. */
    int64_t until;              /* Wall-clock seconds, or
                                 * MODEL_MOVE_WHILE_DRAINING. */
};
#define MODEL_MOVE_WHILE_DRAINING 0

/* A service's slot table: a new session's hash picks slot
 * hash & (n_slots - 1), which names the backend (by key) that gets it.
 * Kept, not recomputed: see model_slots_compute(). */
struct model_slots {
    uint32_t n_slots;           /* 0, or a power of two. */
    uint32_t *owner;            /* n_slots backend keys (0: none). */
    struct model_slot_move *moves;      /* Sorted by slot. */
    size_t n_moves;
};

/* Outbound SNAT (mode slb, docs/slb.md): the backends' own connections
 * to the outside leave their hosts from 'ip' (the VIP or another frontend
 * address), each host with source ports from its own blocks of 'block'
 * ports in [port_lo, port_hi]; the muxes send the answers to a block's
 * host.  The blocks are kept, not recomputed: see model_outbound_fit(). */
struct model_prefix {
    struct mslb_addr addr;      /* Host bits zero. */
    uint8_t len;
};

struct model_snat_block {
    uint16_t start;             /* A multiple of the outbound's block. */
    char *host_bridge;          /* The host's final-stage bridge. */
};

struct model_outbound {
    struct mslb_addr ip;
    uint16_t port_lo, port_hi;  /* Inclusive; block-aligned. */
    uint16_t block;             /* Ports per block: a power of two. */
    struct model_prefix *exclude;       /* Destinations not translated. */
    size_t n_exclude;
    struct model_snat_block *blocks;    /* In the order given out: a
                                         * host's last is its newest. */
    size_t n_blocks;
};
#define MODEL_OUTBOUND_BLOCK 256        /* Defaults. */
#define MODEL_OUTBOUND_PORT_LO 1024
#define MODEL_OUTBOUND_PORT_HI 65535

struct model_service {
    char *name;
    struct mslb_addr vip;
    uint8_t proto;              /* IPPROTO_TCP, IPPROTO_UDP, or 0: every IP
                                 * protocol (not in mode nat). */
    uint16_t port;              /* 0: every port (not in mode nat). */
    enum model_mode mode;
    uint32_t idle_timeout;      /* Seconds an idle session keeps its
                                 * backend (DSR modes; nat: conntrack's). */
    uint32_t persistence;       /* Seconds of source-IP persistence, 0 =
                                 * per session. */
    enum model_tunnel tunnel;   /* tun, mslb. */
    uint8_t dscp;               /* l3dsr: the code that names the VIP. */
    uint16_t mss;               /* Clamp SYNs' MSS option to this; 0:
                                 * no clamping. */
    bool floating_ip;           /* slb: the host does not translate; the
                                 * backends hold the VIP themselves. */
    enum model_distribution distribution;
    char **bridges;             /* Names of first-stage bridges. */
    size_t n_bridges;
    struct model_backend *backends;
    size_t n_backends;
    uint32_t id;                /* Stable id: see model_service_id(). */
    struct model_slots slots;   /* Who gets new sessions. */
    struct model_monitor monitor;       /* type NONE: no monitor. */
    struct model_monitor_request *request;  /* http, udp; else NULL. */
    bool reject_empty;          /* No usable backend: refuse new sessions
                                 * (TCP RST, ICMP port unreachable)
                                 * rather than drop them. */
    struct model_outbound *outbound;    /* slb: outbound SNAT, or NULL. */
};

struct model_bridge {
    char *name;
    enum model_role role;
    bool has_dpid;
    uint64_t dpid;
    struct mslb_mac mac;        /* Answers ARP for VIPs and gateways. */
    char *frontend_port;        /* Clients' side (first stage). */
    char *backend_port;         /* Servers' side; equal: one-armed. */
    char *tunnel_ports[MODEL_N_TUNNELS];  /* Port names, or NULL. */
    uint16_t tunnel_mtu;        /* The tunnels' underlay IP MTU. */
    struct mslb_addr *gateways; /* Addresses the bridge answers for. */
    size_t n_gateways;
    uint16_t ct_zone;
};

struct model {
    struct model_bridge *bridges;
    size_t n_bridges;
    struct model_service *services;   /* Sorted by key hash (see
                                       * model_doc.c). */
    size_t n_services;
};

/* Parses and validates 'json'.  On success stores a new model in '*modelp'
 * (owned by the caller, free with model_destroy()) and returns NULL.  On
 * failure returns a malloc'd message "path: reason", e.g.
 * "services[0].backends[1].weight: must be an integer from 1 to 10000",
 * and stores NULL. */
char *model_from_json(const json_t *json, struct model **modelp)
    MSLB_WARN_UNUSED;
char *model_from_file(const char *file_name, struct model **modelp)
    MSLB_WARN_UNUSED;
void model_destroy(struct model *);

/* One object at a time, for a model kept elsewhere (mslbd keeps it in its
 * database, see modeldb.h).  The same rules as model_from_json(), except
 * those that look across services (names, keys, backend MACs, VIPs against
 * gateways): the caller checks those against its own indexes.  Error paths
 * start with 'path' ("" for a request body). */
struct model_lookup {
    /* The bridge named 'name', or NULL. */
    const struct model_bridge *(*find_bridge)(const void *aux,
                                              const char *name);
    const void *aux;
    /* The service's slot table is the document's "slots" as written (or
     * none), not fitted to its backends nor computed: for a caller that
     * moves the table on itself (mslbd's writes, ofapp/nbdb_write.c). */
    bool defer_slots;
};
char *model_service_from_json(const json_t *, const char *path,
                              const struct model_lookup *,
                              struct model_service **) MSLB_WARN_UNUSED;
char *model_bridge_from_json(const json_t *, const char *path,
                             struct model_bridge **) MSLB_WARN_UNUSED;
void model_service_uninit(struct model_service *);
void model_service_destroy(struct model_service *);
void model_bridge_uninit(struct model_bridge *);
void model_bridge_destroy(struct model_bridge *);
/* Deep copies into uninitialised 'dst'. */
void model_service_clone(struct model_service *dst,
                         const struct model_service *src);
void model_bridge_clone(struct model_bridge *dst,
                        const struct model_bridge *src);

/* "PATH: vip is also a gateway address of bridge ..." or NULL. */
char *model_check_vip_gateways(const struct model_service *,
                               const struct model_bridge *, const char *path)
    MSLB_WARN_UNUSED;

/* Health probes leave first-stage bridge 'br' from its gateway address of
 * the probed backends' family: "PATH.monitor: bridge ... has no IPv4
 * gateway address ..." if 'svc' probes backends on 'br' and 'br' has
 * none, else NULL. */
char *model_check_monitor_gateways(const struct model_service *,
                                   const struct model_bridge *,
                                   const char *path) MSLB_WARN_UNUSED;

/* Mode l3dsr: a final stage tells VIPs apart by (backend address, DSCP):
 * "PATH.dscp: ..." if l3dsr services 'a' and 'b' have different VIPs, the
 * same DSCP and a backend address (behind the same host bridge) in common,
 * else NULL. */
char *model_check_l3dsr_pair(const struct model_service *a,
                             const struct model_service *b, const char *path)
    MSLB_WARN_UNUSED;

/* A service's key is (vip, protocol, port): its hash, and a qsort()-style
 * comparison of two 'struct model_service's by key. */
uint32_t model_service_key_hash(const struct model_service *);
int model_service_key_compare(const void *, const void *);

const struct model_bridge *model_find_bridge(const struct model *,
                                             const char *name);
const struct model_bridge *model_find_bridge_by_dpid(const struct model *,
                                                     uint64_t dpid);
bool model_service_on_bridge(const struct model_service *,
                             const char *bridge);

/* JSON renderings (new references), with every default filled in; what
 * model_to_json() returns is a valid input to model_from_json(). */
json_t *model_to_json(const struct model *);
json_t *model_service_to_json(const struct model_service *);
json_t *model_backend_to_json(const struct model_backend *);
json_t *model_bridge_to_json(const struct model_bridge *);
const struct model_service *model_find_service(const struct model *,
                                               const char *name);

/* Hashes of everything that shapes a service's or a bridge's flows: equal
 * hashes mean (with overwhelming likelihood) the same flows. */
uint32_t model_service_hash(const struct model_service *);
uint32_t model_bridge_hash(const struct model_bridge *);

/* Slot tables (flows/model_slots.c, docs/selection.md).
 *
 * model_slots_compute(): the table 'svc' should have now ('now': wall-clock
 * seconds), starting from 'prev' (the table it had; NULL or empty: from
 * scratch): exact shares of the slots for the backends that are up, by
 * weight, moving as few slots as that allows; in the DSR modes a slot
 * whose old backend keeps its sessions (up or draining) is recorded as a
 * move until the service's idle_timeout has passed (a TCP service's
 * moves from a draining backend last while it drains).  Deterministic.
 * Stores into uninitialised 'out'.
 *
 * model_slots_format()/model_slots_parse(): a compact text (for the
 * database); parse returns false on malformed text.
 *
 * model_slots_next_expiry(): the earliest 'until' of the service's timed
 * moves, or INT64_MAX. */
void model_slots_compute(const struct model_service *svc,
                         const struct model_slots *prev, int64_t now,
                         struct model_slots *out);
char *model_slots_format(const struct model_slots *);
bool model_slots_parse(const char *, struct model_slots *out);
void model_slots_uninit(struct model_slots *);
void model_slots_clone(struct model_slots *dst, const struct model_slots *);
bool model_slots_equal(const struct model_slots *,
                       const struct model_slots *);
int64_t model_slots_next_expiry(const struct model_slots *);
/* qsort() order of backend keys (uint32_t), as model_slots_effective()
 * wants its 'failed'. */
int model_key_compare(const void *, const void *);
/* The table 'svc' uses while the backends whose keys are 'failed' ('n',
 * sorted) fail their health checks (docs/health.md): its stored table
 * with the failed backends' slots handed to the usable ones as
 * slots_assign() shares them, so that nothing else moves and a backend
 * that recovers gets back exactly the slots it had.  TCP services of the
 * DSR modes keep the failed backends' open sessions: each slot taken from
 * one becomes a move from it (until MODEL_MOVE_WHILE_DRAINING), unless
 * the slot is in a stored move already or the backend's monitor says
 * "sessions": "reset".  Stores into uninitialised
 * 'out'. */
void model_slots_effective(const struct model_service *svc,
                           const uint32_t *failed, size_t n,
                           struct model_slots *out);
/* Adds moves 'm' ('n', sorted by slot) to table 'sl' where its slot has
 * none yet and its owner is another backend (ofapp/health.c's moves of
 * a recovered backend's slots). */
void model_slots_add_moves(struct model_slots *sl,
                           const struct model_slot_move *m, size_t n);
/* The backend of 'svc' whose key is 'key', or NULL. */
const struct model_backend *model_find_backend_by_key(
    const struct model_service *, uint32_t key);
const char *model_distribution_name(enum model_distribution);
const char *model_monitor_type_name(enum model_monitor_type);
/* A monitor's request: deep copy (NULL for NULL), free, and its members
 * added to JSON object 'monitor'. */
struct model_monitor_request *model_monitor_request_clone(
    const struct model_monitor_request *);
void model_monitor_request_destroy(struct model_monitor_request *);
void model_monitor_request_to_json(const struct model_monitor_request *,
                                   json_t *monitor);

/* Outbound SNAT blocks (flows/model_outbound.c).
 *
 * model_outbound_fit(): the blocks 'svc' (with an outbound) should have,
 * starting from 'prev' ('n' blocks, in the order given out): those whose
 * host bridge still has a backend of the service and that lie in the
 * range are kept, in order; every such bridge without a block gets the
 * lowest free one (none when the range is used up).  Deterministic.
 * Replaces svc->outbound's blocks.
 *
 * model_outbound_grow(): gives host bridge 'bridge' one more block (the
 * lowest free one) at the end of svc->outbound's list; false if none is
 * free.
 *
 * model_outbound_newest(): the block that new connections of 'bridge'
 * take (its last), or NULL.
 *
 * Text form (the database's): "START:BRIDGE START:BRIDGE ..."; parse
 * returns false on malformed text. */
void model_outbound_fit(struct model_service *svc,
                        const struct model_snat_block *prev, size_t n);
bool model_outbound_grow(struct model_service *svc, const char *bridge);
const struct model_snat_block *model_outbound_newest(
    const struct model_outbound *, const char *bridge);
size_t model_outbound_count(const struct model_outbound *,
                            const char *bridge);
char *model_outbound_blocks_format(const struct model_outbound *);
bool model_outbound_blocks_parse(const char *, struct model_snat_block **,
                                 size_t *n);
void model_snat_blocks_free(struct model_snat_block *, size_t n);
struct model_outbound *model_outbound_clone(const struct model_outbound *);
void model_outbound_destroy(struct model_outbound *);
json_t *model_outbound_to_json(const struct model_outbound *);
uint32_t model_outbound_hash(const struct model_outbound *, uint32_t basis);
/* Outbound rules across two services: an outbound address is one
 * service's, a service on it may not use a port of its range, and a
 * backend (address on a host bridge) sends through one outbound only:
 * "PATH.outbound...: ..." or NULL. */
char *model_check_outbound_pair(const struct model_service *a,
                                const struct model_service *b,
                                const char *path) MSLB_WARN_UNUSED;

/* Helpers shared with the compiler and tests. */
const char *model_proto_name(uint8_t proto);
const char *model_mode_name(enum model_mode);
const char *model_tunnel_name(enum model_tunnel);
bool model_mode_is_dsr(enum model_mode);
/* mslb and slb: the first stage encapsulates to a final-stage bridge on
 * the backend's host ("host", "host_bridge"). */
bool model_mode_via_host(enum model_mode);
void mslb_addr_format(const struct mslb_addr *, char *buf, size_t size);
void mslb_mac_format(const struct mslb_mac *, char *buf, size_t size);
/* The text forms back (IPv4 or IPv6; xx:xx:xx:xx:xx:xx): false if 's'
 * is not one. */
bool mslb_addr_parse(const char *s, struct mslb_addr *);
bool mslb_mac_parse(const char *s, struct mslb_mac *);
bool mslb_addr_equal(const struct mslb_addr *, const struct mslb_addr *);
uint32_t mslb_hash_bytes(const void *, size_t, uint32_t basis);

#endif /* model.h */
