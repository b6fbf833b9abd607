/* Reading the model's JSON: members of an object as strings, names,
 * integers, addresses and MACs, each failure a malloc'd "path: reason".
 * The rules of the objects themselves are in model.c. */
#include "model-private.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
model_verror(const char *path, const char *fmt, va_list args)
{
    char reason[512];
    char *msg;

    vsnprintf(reason, sizeof reason, fmt, args);
    if (asprintf(&msg, "%s: %s", path[0] ? path : "(top level)",
                 reason) < 0) {
        abort();
    }
    return msg;
}

char *
model_error(const char *path, const char *fmt, ...)
{
    va_list args;
    char *msg;

    va_start(args, fmt);
    msg = model_verror(path, fmt, args);
    va_end(args);
    return msg;
}

char *
model_key_error(const char *path, const char *key, const char *fmt, ...)
{
    char sub[512];
    va_list args;
    char *msg;

    model_path_key(sub, sizeof sub, path, key);
    va_start(args, fmt);
    msg = model_verror(sub, fmt, args);
    va_end(args);
    return msg;
}

void
model_path_key(char *buf, size_t size, const char *path, const char *key)
{
    snprintf(buf, size, "%s%s%s", path, path[0] ? "." : "", key);
}

void
model_path_index(char *buf, size_t size, const char *path, const char *key,
                 size_t i)
{
    snprintf(buf, size, "%s%s%s[%zu]", path, path[0] ? "." : "", key, i);
}

char *
model_check_keys(const json_t *obj, const char *path,
                 const char *const *allowed)
{
    const char *key;
    json_t *value;

    json_object_foreach ((json_t *) obj, key, value) {
        const char *const *a;
        for (a = allowed; *a; a++) {
            if (!strcmp(*a, key)) {
                break;
            }
        }
        if (!*a) {
            return model_key_error(path, key, "unknown key");
        }
    }
    return NULL;
}

bool
model_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (!n || n > max) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
              || *p == '.')) {
            return false;
        }
    }
    return true;
}

/* The member 'key' in '*v': NULL when it is absent, which is an error if
 * it is 'required'. */
static char *
get_member(const json_t *obj, const char *path, const char *key,
           bool required, json_t **v)
{
    *v = json_object_get(obj, key);
    return !*v && required ? model_key_error(path, key, "is required") : NULL;
}

char *
model_get_string(const json_t *obj, const char *path, const char *key,
                 bool required, const char **out)
{
    json_t *v;
    char *error = get_member(obj, path, key, required, &v);

    *out = NULL;
    if (error || !v) {
        return error;
    }
    if (!json_is_string(v)) {
        return model_key_error(path, key, "must be a string");
    }
    *out = json_string_value(v);
    return NULL;
}

char *
model_get_name(const json_t *obj, const char *path, size_t max,
               const char **out)
{
    char *error = model_get_string(obj, path, "name", true, out);

    if (!error && !model_name_ok(*out, max)) {
        return model_key_error(path, "name", "must be 1 to %zu characters "
                               "of A-Z a-z 0-9 . _ -", max);
    }
    return error;
}

char *
model_get_port_name(const json_t *obj, const char *path, const char *key,
                    bool required, const char **out)
{
    char *error = model_get_string(obj, path, key, required, out);

    if (!error && *out && !model_name_ok(*out, 15)) {
        return model_key_error(path, key, "must be a port name of 1 to 15 "
                               "characters");
    }
    return error;
}

char *
model_get_int(const json_t *obj, const char *path, const char *key,
              bool required, long long min, long long max, long long dflt,
              long long *out)
{
    json_t *v;
    char *error = get_member(obj, path, key, required, &v);

    *out = dflt;
    if (error || !v) {
        return error;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max) {
        return model_key_error(path, key,
                               "must be an integer from %lld to %lld",
                               min, max);
    }
    *out = json_integer_value(v);
    return NULL;
}

char *
model_get_array(const json_t *obj, const char *path, const char *key,
                bool required, json_t **out)
{
    char *error = get_member(obj, path, key, required, out);

    if (!error && *out && !json_is_array(*out)) {
        return model_key_error(path, key, "must be an array");
    }
    return error;
}

bool
mslb_addr_parse(const char *s, struct mslb_addr *a)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, s, &a->v4) == 1) {
        a->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, &a->v6) == 1) {
        a->family = AF_INET6;
        return true;
    }
    return false;
}

/* IPv4 in IPv6 (mapped, compatible) would be a second spelling of an IPv4
 * address the pipeline matches as IPv6. */
const char *
model_not_host_addr(const struct mslb_addr *a)
{
    if (a->family == AF_INET) {
        uint32_t h = ntohl(a->v4.s_addr);
        if (!h || (h >> 28) >= 0xe || (h >> 24) == 127 || (h >> 24) == 0) {
            return "is not a unicast host address";
        }
    } else if (IN6_IS_ADDR_UNSPECIFIED(&a->v6)
               || IN6_IS_ADDR_MULTICAST(&a->v6)
               || IN6_IS_ADDR_LOOPBACK(&a->v6)) {
        return "is not a unicast host address";
    } else if (IN6_IS_ADDR_V4MAPPED(&a->v6)) {
        return "is an IPv4-mapped IPv6 address: write the IPv4 address";
    } else if (IN6_IS_ADDR_V4COMPAT(&a->v6)) {
        return "is an IPv4-compatible IPv6 address (deprecated)";
    }
    return NULL;
}

char *
model_get_addr(const json_t *obj, const char *path, const char *key,
               struct mslb_addr *a)
{
    const char *s;
    char *error = model_get_string(obj, path, key, true, &s);

    if (error) {
        return error;
    }
    if (!mslb_addr_parse(s, a)) {
        return model_key_error(path, key,
                               "\"%s\" is not an IPv4 or IPv6 address", s);
    }
    const char *why = model_not_host_addr(a);
    return why ? model_key_error(path, key, "\"%s\" %s", s, why) : NULL;
}

bool
mslb_mac_parse(const char *s, struct mslb_mac *mac)
{
    unsigned int b[6];
    char extra;

    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &extra) != 6 || strlen(s) != 17) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        mac->b[i] = b[i];
    }
    return true;
}

char *
model_get_mac(const json_t *obj, const char *path, const char *key,
              struct mslb_mac *mac)
{
    const char *s;
    char *error = model_get_string(obj, path, key, true, &s);
    static const struct mslb_mac zero;

    if (error) {
        return error;
    }
    if (!mslb_mac_parse(s, mac)) {
        return model_key_error(path, key, "\"%s\" is not a MAC address "
                               "(xx:xx:xx:xx:xx:xx)", s);
    }
    if (mac->b[0] & 1) {
        return model_key_error(path, key,
                               "\"%s\" is a multicast MAC address", s);
    }
    if (!memcmp(mac, &zero, sizeof zero)) {
        return model_key_error(path, key, "\"%s\" is the zero MAC address",
                               s);
    }
    return NULL;
}

int
model_tunnel_from_name(const char *s)
{
    int t;

    for (t = 0; t < MODEL_N_TUNNELS; t++) {
        if (!strcmp(s, model_tunnel_name(t))) {
            break;
        }
    }
    return t;
}
