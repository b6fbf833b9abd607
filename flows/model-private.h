/* Shared by the model's files: model_read.c (reading JSON members),
 * model.c (one bridge, service or backend) and model_doc.c (the whole
 * document, rules across services).  Not a public header:
 * include/mslb/model.h is the model's interface. */
#ifndef MSLB_MODEL_PRIVATE_H
#define MSLB_MODEL_PRIVATE_H 1

#include "mslb/model.h"

#include <stdbool.h>
#include <stddef.h>

/* model_read.c: the readers of members of the object 'obj' at 'path'.
 * Each returns NULL or a malloc'd "path.key: reason". */

/* A failure of 'path' ("(top level)" if empty), or of its member 'key'. */
char *model_error(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) MSLB_WARN_UNUSED;
char *model_key_error(const char *path, const char *key, const char *fmt,
                      ...)
    __attribute__((format(printf, 3, 4))) MSLB_WARN_UNUSED;
/* "path.key" and "path.key[i]" ("key", "key[i]" for an empty path). */
void model_path_key(char *buf, size_t, const char *path, const char *key);
void model_path_index(char *buf, size_t, const char *path, const char *key,
                      size_t i);

/* Fails on a key not in NULL-terminated 'allowed'. */
char *model_check_keys(const json_t *obj, const char *path,
                       const char *const *allowed) MSLB_WARN_UNUSED;
/* An absent optional member leaves '*out' NULL (strings, arrays) or
 * 'dflt' (integers). */
char *model_get_string(const json_t *obj, const char *path, const char *key,
                       bool required, const char **out) MSLB_WARN_UNUSED;
char *model_get_int(const json_t *obj, const char *path, const char *key,
                    bool required, long long min, long long max,
                    long long dflt, long long *out) MSLB_WARN_UNUSED;
char *model_get_array(const json_t *obj, const char *path, const char *key,
                      bool required, json_t **out) MSLB_WARN_UNUSED;
/* Member "name" (required): 1 to 'max' characters of A-Z a-z 0-9 . _ -. */
char *model_get_name(const json_t *obj, const char *path, size_t max,
                     const char **out) MSLB_WARN_UNUSED;
char *model_get_port_name(const json_t *obj, const char *path,
                          const char *key, bool required, const char **out)
    MSLB_WARN_UNUSED;
/* Required; one host's unicast address, or a unicast, nonzero MAC. */
char *model_get_addr(const json_t *obj, const char *path, const char *key,
                     struct mslb_addr *) MSLB_WARN_UNUSED;
char *model_get_mac(const json_t *obj, const char *path, const char *key,
                    struct mslb_mac *) MSLB_WARN_UNUSED;

bool model_name_ok(const char *, size_t max);
/* Why 'a' cannot be one host's address (a VIP, a backend, a gateway), or
 * NULL. */
const char *model_not_host_addr(const struct mslb_addr *a);
/* The tunnel named 's', or MODEL_N_TUNNELS. */
int model_tunnel_from_name(const char *s);

/* model.c: parse one object into zeroed '*br' or '*svc' with every rule
 * that does not look across services.  On failure what was parsed so far
 * stays in the object for the caller to uninit. */
char *model_parse_bridge(const json_t *, const char *path,
                         struct model_bridge *br) MSLB_WARN_UNUSED;
char *model_parse_service(const json_t *, const char *path,
                          const struct model_lookup *,
                          struct model_service *svc) MSLB_WARN_UNUSED;

/* model_monitor.c: the service's "monitor" into 'svc->monitor' (the
 * defaults, type none, when absent), after its mode and protocol; a
 * backend's merged over its service's into 'be->monitor'; the port that
 * probes of a backend go to, with the paths of the service and the
 * backend for the error. */
char *model_parse_service_monitor(const json_t *, const char *path,
                                  struct model_service *svc)
    MSLB_WARN_UNUSED;
char *model_parse_backend_monitor(const json_t *, const char *path,
                                  const struct model_service *svc,
                                  struct model_backend *be)
    MSLB_WARN_UNUSED;
char *model_check_probe_port(const struct model_service *svc,
                             const struct model_backend *be,
                             const char *svc_path, const char *be_path)
    MSLB_WARN_UNUSED;

/* model_outbound.c: the service's "outbound" (mode slb; after its
 * backends) into 'svc->outbound', its blocks fitted; NULL when absent. */
char *model_parse_outbound(const json_t *, const char *path,
                           struct model_service *svc) MSLB_WARN_UNUSED;

#endif /* model-private.h */
