/* JSON Schema validation (a draft 2020-12 subset): see jschema.h. */
#include "jschema.h"
#include "mslb/xalloc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSCHEMA_SUFFIX ".schema.json"

/* Validation recursion is bounded by the instance's depth times the
 * schema's, and jansson already caps the former; this also stops a "$ref"
 * loop that never descends into the instance. */
#define JSCHEMA_MAX_DEPTH 512

struct jschema_file {
    char *name;                 /* e.g. "service.schema.json". */
    json_t *root;
};

/* Types as bits, so that checking one is a mask. */
enum {
    T_STRING = 1 << 0,
    T_INTEGER = 1 << 1,
    T_NUMBER = 1 << 2,          /* Integers are numbers too. */
    T_BOOLEAN = 1 << 3,
    T_OBJECT = 1 << 4,
    T_ARRAY = 1 << 5,
    T_NULL = 1 << 6,
};

enum jformat { F_NONE, F_IP, F_IPV4, F_IPV6, F_MAC };

/* A schema object compiled once at load: validation looks nothing up by
 * keyword, parses no "$ref" and compiles no "pattern".  Subschemas stay
 * json_t pointers, found again with find_node(). */
struct jschema_node {
    const json_t *schema;       /* The node (the key of the sorted array). */
    const json_t *ref;          /* "$ref", resolved. */
    const json_t *type;         /* "type" as written, for messages... */
    unsigned types;             /* ...and as T_* bits (0: no "type"). */
    const json_t *enm, *cnst;
    enum jformat format;
    json_int_t min_length, max_length;          /* -1: absent. */
    const json_t *pattern;      /* Its text, for messages... */
    regex_t *re;                /* ...and compiled. */
    const json_t *minimum, *maximum;
    const json_t *required, *properties, *additional;
    json_int_t min_properties, max_properties;  /* -1: absent. */
    const json_t *items;
    json_int_t min_items, max_items;            /* -1: absent. */
    bool unique_items;
    const json_t *all_of, *any_of, *one_of;
    const char *xerror;         /* "x-error". */
};

struct jschema {
    struct jschema_file *files; /* Sorted by name. */
    size_t n_files;
    struct jschema_node *nodes; /* Sorted by 'schema'. */
    size_t n_nodes, allocated_nodes;
};

/* A growing string: a message, or the JSON pointer to a schema node while
 * loading. */
struct jbuf {
    char *s;
    size_t len, cap;
};

static void
jbuf_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = mslb_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void
jbuf_puts(struct jbuf *b, const char *s)
{
    jbuf_put(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list args;
    int n;

    va_start(args, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, args);
    va_end(args);
    jbuf_put(b, tmp, n < (int) sizeof tmp ? n : (int) sizeof tmp - 1);
}

static void
jbuf_truncate(struct jbuf *b, size_t len)
{
    b->len = len;
    if (b->s) {
        b->s[len] = '\0';
    }
}

/* Loading. */

enum kw_kind {
    KW_STRING,                  /* Annotations that must be strings. */
    KW_ANY,
    KW_ARRAY,
    KW_BOOL,
    KW_COUNT,                   /* A non-negative integer. */
    KW_NUMBER,
    KW_TYPE,
    KW_REQUIRED,
    KW_ENUM,
    KW_PATTERN,
    KW_FORMAT,
    KW_REF,
    KW_SCHEMA,
    KW_SCHEMA_MAP,
    KW_SCHEMA_LIST,
};

static const struct {
    const char *name;
    enum kw_kind kind;
} keywords[] = {
    { "$schema", KW_STRING }, { "$id", KW_STRING },
    { "$comment", KW_STRING }, { "title", KW_STRING },
    { "description", KW_STRING }, { "x-error", KW_STRING },
    { "default", KW_ANY }, { "const", KW_ANY },
    { "examples", KW_ARRAY },
    { "readOnly", KW_BOOL }, { "writeOnly", KW_BOOL },
    { "deprecated", KW_BOOL }, { "uniqueItems", KW_BOOL },
    { "minLength", KW_COUNT }, { "maxLength", KW_COUNT },
    { "minItems", KW_COUNT }, { "maxItems", KW_COUNT },
    { "minProperties", KW_COUNT }, { "maxProperties", KW_COUNT },
    { "minimum", KW_NUMBER }, { "maximum", KW_NUMBER },
    { "type", KW_TYPE },
    { "required", KW_REQUIRED },
    { "enum", KW_ENUM },
    { "pattern", KW_PATTERN },
    { "format", KW_FORMAT },
    { "$ref", KW_REF },
    { "items", KW_SCHEMA }, { "additionalProperties", KW_SCHEMA },
    { "properties", KW_SCHEMA_MAP }, { "$defs", KW_SCHEMA_MAP },
    { "allOf", KW_SCHEMA_LIST }, { "anyOf", KW_SCHEMA_LIST },
    { "oneOf", KW_SCHEMA_LIST },
};

/* In T_* bit order. */
static const char *const type_names[] = {
    "string", "integer", "number", "boolean", "object", "array", "null",
};

/* In enum jformat order, after F_NONE. */
static const char *const format_names[] = { "ip", "ipv4", "ipv6", "mac" };

/* The index of 's' in 'list', or -1. */
static int
list_index(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(s, list[i])) {
            return i;
        }
    }
    return -1;
}

#define ARRAY_SIZE(A) (sizeof (A) / sizeof *(A))
#define IN_LIST(S, LIST) (list_index(S, LIST, ARRAY_SIZE(LIST)) >= 0)

/* A "$ref" to resolve once every schema node is known. */
struct pending_ref {
    const json_t *schema;       /* The node that holds it. */
    size_t file;
    char *ptr;                  /* JSON pointer to the node, for errors. */
};

struct loadctx {
    struct jschema *set;
    const char *dir;
    size_t file;                /* The file being checked. */
    struct jbuf ptr;            /* JSON pointer to the node being checked. */
    struct pending_ref *refs;
    size_t n_refs;
};

static char * __attribute__((format(printf, 2, 3)))
lerr(const struct loadctx *ctx, const char *fmt, ...)
{
    char *reason, *msg;
    va_list args;

    va_start(args, fmt);
    if (vasprintf(&reason, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    msg = mslb_xasprintf("%s/%s%s%s: %s", ctx->dir,
                     ctx->set->files[ctx->file].name,
                     ctx->ptr.len ? "#" : "", ctx->ptr.len ? ctx->ptr.s : "",
                     reason);
    free(reason);
    return msg;
}

/* Appends "/token" to a JSON pointer, escaped. */
static size_t
ptr_push(struct jbuf *ptr, const char *token)
{
    size_t old = ptr->len;

    jbuf_puts(ptr, "/");
    for (const char *p = token; *p; p++) {
        jbuf_puts(ptr, *p == '~' ? "~0" : *p == '/' ? "~1"
                  : (char[2]) { *p, '\0' });
    }
    return old;
}

static const struct jschema_file *
find_file(const struct jschema *set, const char *name, size_t n)
{
    for (size_t i = 0; i < set->n_files; i++) {
        if (strlen(set->files[i].name) == n
            && !memcmp(set->files[i].name, name, n)) {
            return &set->files[i];
        }
    }
    return NULL;
}

/* Resolves 'ref', found in file 'file': "other.schema.json",
 * "other.schema.json#/json/pointer" or "#/json/pointer".  Returns NULL
 * with a reason in '*reasonp' if it does not resolve. */
static const json_t *
resolve_ref(const struct jschema *set, size_t file, const char *ref,
            char **reasonp)
{
    const char *hash = strchr(ref, '#');
    const char *frag = hash ? hash + 1 : "";
    const char *fname = ref;
    size_t n = hash ? (size_t) (hash - ref) : strlen(ref);
    const struct jschema_file *f;
    const json_t *node;

    if (n >= 2 && !memcmp(fname, "./", 2)) {
        fname += 2;
        n -= 2;
    }
    f = n ? find_file(set, fname, n) : &set->files[file];
    if (!f) {
        *reasonp = mslb_xasprintf("$ref \"%s\": no schema file \"%.*s\" in the "
                              "directory", ref, (int) n, fname);
        return NULL;
    }
    node = f->root;
    if (*frag && *frag != '/') {
        *reasonp = mslb_xasprintf("$ref \"%s\": only JSON pointer fragments are "
                              "supported", ref);
        return NULL;
    }
    while (*frag == '/') {
        const char *end = strchr(frag + 1, '/');
        size_t len = end ? (size_t) (end - frag - 1) : strlen(frag + 1);
        char *token = mslb_xrealloc(NULL, len + 1);
        size_t k = 0;

        for (size_t i = 0; i < len; i++) {
            char c = frag[1 + i];
            if (c == '~' && i + 1 < len && (frag[2 + i] == '0'
                                            || frag[2 + i] == '1')) {
                c = frag[2 + i] == '0' ? '~' : '/';
                i++;
            }
            token[k++] = c;
        }
        token[k] = '\0';
        if (json_is_object(node)) {
            node = json_object_get(node, token);
        } else if (json_is_array(node) && k
                   && strspn(token, "0123456789") == k) {
            node = json_array_get(node, strtoul(token, NULL, 10));
        } else {
            node = NULL;
        }
        free(token);
        if (!node) {
            *reasonp = mslb_xasprintf("$ref \"%s\" does not resolve", ref);
            return NULL;
        }
        frag += 1 + len;
    }
    if (!json_is_object(node) && !json_is_boolean(node)) {
        *reasonp = mslb_xasprintf("$ref \"%s\" is not a schema", ref);
        return NULL;
    }
    return node;
}

static char *check_schema(struct loadctx *, const json_t *schema);

static char *
check_keyword(struct loadctx *ctx, const json_t *schema, const char *key,
              const json_t *value, enum kw_kind kind,
              struct jschema_node *node)
{
    char *error = NULL;
    const char *k;
    json_t *v;
    size_t i;

    switch (kind) {
    case KW_STRING:
    case KW_PATTERN:
    case KW_FORMAT:
    case KW_REF:
        if (!json_is_string(value)) {
            return lerr(ctx, "%s must be a string", key);
        }
        break;
    case KW_ANY:
        break;
    case KW_ARRAY:
        if (!json_is_array(value)) {
            return lerr(ctx, "%s must be an array", key);
        }
        break;
    case KW_BOOL:
        if (!json_is_boolean(value)) {
            return lerr(ctx, "%s must be true or false", key);
        }
        break;
    case KW_COUNT:
        if (!json_is_integer(value) || json_integer_value(value) < 0) {
            return lerr(ctx, "%s must be a non-negative integer", key);
        }
        break;
    case KW_NUMBER:
        if (!json_is_number(value)) {
            return lerr(ctx, "%s must be a number", key);
        }
        break;
    case KW_TYPE:
        if (json_is_string(value)) {
            if (!IN_LIST(json_string_value(value), type_names)) {
                return lerr(ctx, "unknown type \"%s\"",
                            json_string_value(value));
            }
        } else if (json_is_array(value) && json_array_size(value)) {
            json_array_foreach (value, i, v) {
                if (!json_is_string(v)
                    || !IN_LIST(json_string_value(v), type_names)) {
                    return lerr(ctx, "type[%zu] is not a type name", i);
                }
            }
        } else {
            return lerr(ctx, "type must be a type name or an array of them");
        }
        break;
    case KW_REQUIRED: {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *ap = json_object_get(schema, "additionalProperties");

        if (!json_is_array(value)) {
            return lerr(ctx, "required must be an array of strings");
        }
        json_array_foreach (value, i, v) {
            if (!json_is_string(v)) {
                return lerr(ctx, "required[%zu] must be a string", i);
            }
            /* A typo here would make every instance invalid. */
            if (json_is_false(ap)
                && !json_object_get(props, json_string_value(v))) {
                return lerr(ctx, "required \"%s\" is not among properties",
                            json_string_value(v));
            }
        }
        break;
    }
    case KW_ENUM:
        if (!json_is_array(value) || !json_array_size(value)) {
            return lerr(ctx, "enum must be a non-empty array");
        }
        break;
    case KW_SCHEMA: {
        size_t old = ptr_push(&ctx->ptr, key);
        error = check_schema(ctx, value);
        jbuf_truncate(&ctx->ptr, old);
        return error;
    }
    case KW_SCHEMA_MAP:
        if (!json_is_object(value)) {
            return lerr(ctx, "%s must be an object", key);
        }
        json_object_foreach ((json_t *) value, k, v) {
            size_t old = ptr_push(&ctx->ptr, key);
            ptr_push(&ctx->ptr, k);
            error = check_schema(ctx, v);
            jbuf_truncate(&ctx->ptr, old);
            if (error) {
                return error;
            }
        }
        break;
    case KW_SCHEMA_LIST:
        if (!json_is_array(value) || !json_array_size(value)) {
            return lerr(ctx, "%s must be a non-empty array", key);
        }
        json_array_foreach (value, i, v) {
            size_t old = ptr_push(&ctx->ptr, key);
            jbuf_printf(&ctx->ptr, "/%zu", i);
            error = check_schema(ctx, v);
            jbuf_truncate(&ctx->ptr, old);
            if (error) {
                return error;
            }
        }
        break;
    }

    if (kind == KW_FORMAT && !IN_LIST(json_string_value(value),
                                      format_names)) {
        return lerr(ctx, "unsupported format \"%s\"",
                    json_string_value(value));
    }
    if (kind == KW_PATTERN) {
        int rc;

        node->re = mslb_xrealloc(NULL, sizeof *node->re);
        rc = regcomp(node->re, json_string_value(value),
                     REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char buf[256];

            regerror(rc, node->re, buf, sizeof buf);
            free(node->re);
            node->re = NULL;
            return lerr(ctx, "pattern \"%s\" is not a POSIX extended regular "
                        "expression: %s", json_string_value(value), buf);
        }
    }
    if (kind == KW_REF) {
        ctx->refs = mslb_xrealloc(ctx->refs,
                              (ctx->n_refs + 1) * sizeof *ctx->refs);
        ctx->refs[ctx->n_refs++] = (struct pending_ref) {
            schema, ctx->file, mslb_xstrdup(ctx->ptr.len ? ctx->ptr.s : "")
        };
    }
    return NULL;
}

static json_int_t
count_or_absent(const json_t *schema, const char *key)
{
    const json_t *v = json_object_get(schema, key);

    return v ? json_integer_value(v) : -1;
}

/* Fills in 'node' from its schema, which check_keyword() found sound. */
static void
compile_node(struct jschema_node *node)
{
    const json_t *s = node->schema;
    const json_t *format = json_object_get(s, "format");
    size_t i;
    json_t *t;

    node->type = json_object_get(s, "type");
    if (json_is_string(node->type)) {
        node->types = 1u << list_index(json_string_value(node->type),
                                       type_names, ARRAY_SIZE(type_names));
    }
    json_array_foreach (node->type, i, t) {
        node->types |= 1u << list_index(json_string_value(t), type_names,
                                        ARRAY_SIZE(type_names));
    }
    node->enm = json_object_get(s, "enum");
    node->cnst = json_object_get(s, "const");
    node->format = format ? 1 + list_index(json_string_value(format),
                                           format_names,
                                           ARRAY_SIZE(format_names))
                          : F_NONE;
    node->min_length = count_or_absent(s, "minLength");
    node->max_length = count_or_absent(s, "maxLength");
    node->pattern = json_object_get(s, "pattern");
    node->minimum = json_object_get(s, "minimum");
    node->maximum = json_object_get(s, "maximum");
    node->required = json_object_get(s, "required");
    node->properties = json_object_get(s, "properties");
    node->additional = json_object_get(s, "additionalProperties");
    node->min_properties = count_or_absent(s, "minProperties");
    node->max_properties = count_or_absent(s, "maxProperties");
    node->items = json_object_get(s, "items");
    node->min_items = count_or_absent(s, "minItems");
    node->max_items = count_or_absent(s, "maxItems");
    node->unique_items = json_is_true(json_object_get(s, "uniqueItems"));
    node->all_of = json_object_get(s, "allOf");
    node->any_of = json_object_get(s, "anyOf");
    node->one_of = json_object_get(s, "oneOf");
    node->xerror = json_string_value(json_object_get(s, "x-error"));
}

static void
add_node(struct jschema *set, const struct jschema_node *node)
{
    if (set->n_nodes == set->allocated_nodes) {
        set->allocated_nodes = 2 * set->allocated_nodes + 16;
        set->nodes = mslb_xrealloc(set->nodes,
                               set->allocated_nodes * sizeof *set->nodes);
    }
    set->nodes[set->n_nodes++] = *node;
}

static char *
check_schema(struct loadctx *ctx, const json_t *schema)
{
    struct jschema_node node = { .schema = schema };
    const char *key;
    json_t *value;

    if (json_is_boolean(schema)) {
        return NULL;
    }
    if (!json_is_object(schema)) {
        return lerr(ctx, "a schema must be an object or true or false");
    }
    json_object_foreach ((json_t *) schema, key, value) {
        size_t i;
        char *error;

        for (i = 0; i < ARRAY_SIZE(keywords); i++) {
            if (!strcmp(keywords[i].name, key)) {
                break;
            }
        }
        if (i == ARRAY_SIZE(keywords)) {
            if (!strncmp(key, "x-", 2)) {
                continue;       /* Other tools' vendor keywords. */
            }
            error = lerr(ctx, "unknown keyword \"%s\"", key);
        } else {
            error = check_keyword(ctx, schema, key, value, keywords[i].kind,
                                  &node);
        }
        if (error) {
            if (node.re) {
                regfree(node.re);
                free(node.re);
            }
            return error;
        }
    }
    compile_node(&node);
    add_node(ctx->set, &node);
    return NULL;
}

static int
compare_nodes(const void *a_, const void *b_)
{
    const struct jschema_node *a = a_, *b = b_;
    uintptr_t pa = (uintptr_t) a->schema, pb = (uintptr_t) b->schema;

    return (pa > pb) - (pa < pb);
}

static int
compare_files(const void *a_, const void *b_)
{
    const struct jschema_file *a = a_, *b = b_;

    return strcmp(a->name, b->name);
}

static struct jschema_node *
find_node(const struct jschema *set, const json_t *schema)
{
    struct jschema_node key = { .schema = schema };

    return bsearch(&key, set->nodes, set->n_nodes, sizeof *set->nodes,
                   compare_nodes);
}

/* A "$ref" must lead to a schema node, not merely to some JSON value (an
 * example, a "properties" map), since validation finds the target's
 * compiled node. */
static char *
resolve_refs(struct loadctx *ctx)
{
    for (size_t i = 0; i < ctx->n_refs; i++) {
        const struct pending_ref *p = &ctx->refs[i];
        const char *ref = json_string_value(json_object_get(p->schema,
                                                            "$ref"));
        char *reason = NULL;
        const json_t *target = resolve_ref(ctx->set, p->file, ref, &reason);

        if (target && json_is_object(target)
            && !find_node(ctx->set, target)) {
            reason = mslb_xasprintf("$ref \"%s\" is not a schema", ref);
        }
        if (reason) {
            char *msg;

            ctx->file = p->file;
            jbuf_truncate(&ctx->ptr, 0);
            jbuf_puts(&ctx->ptr, p->ptr);
            msg = lerr(ctx, "%s", reason);
            free(reason);
            return msg;
        }
        find_node(ctx->set, p->schema)->ref = target;
    }
    return NULL;
}

static void
free_load_ctx(struct loadctx *ctx)
{
    for (size_t i = 0; i < ctx->n_refs; i++) {
        free(ctx->refs[i].ptr);
    }
    free(ctx->refs);
    free(ctx->ptr.s);
}

static bool
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n > m && !strcmp(s + n - m, suffix);
}

char *
jschema_load_dir(const char *dir, struct jschema **setp)
{
    struct jschema *set = mslb_xrealloc(NULL, sizeof *set);
    struct loadctx ctx = { .set = set, .dir = dir };
    struct dirent *de;
    char *error = NULL;
    DIR *d;

    *setp = NULL;
    memset(set, 0, sizeof *set);
    d = opendir(dir);
    if (!d) {
        error = mslb_xasprintf("%s: %s", dir, strerror(errno));
        goto fail;
    }
    while ((de = readdir(d))) {
        if (has_suffix(de->d_name, JSCHEMA_SUFFIX)) {
            set->files = mslb_xrealloc(set->files,
                                   (set->n_files + 1) * sizeof *set->files);
            set->files[set->n_files++] = (struct jschema_file) {
                mslb_xstrdup(de->d_name), NULL
            };
        }
    }
    closedir(d);
    if (!set->n_files) {
        error = mslb_xasprintf("%s: no *" JSCHEMA_SUFFIX " files", dir);
        goto fail;
    }
    qsort(set->files, set->n_files, sizeof *set->files, compare_files);

    /* All files first: a "$ref" may point forward. */
    for (size_t i = 0; i < set->n_files; i++) {
        char *path = mslb_xasprintf("%s/%s", dir, set->files[i].name);
        json_error_t jerr;

        set->files[i].root = json_load_file(path, JSON_REJECT_DUPLICATES,
                                            &jerr);
        if (!set->files[i].root) {
            error = mslb_xasprintf("%s:%d:%d: %s", path, jerr.line, jerr.column,
                               jerr.text);
        }
        free(path);
        if (error) {
            goto fail;
        }
    }
    for (ctx.file = 0; ctx.file < set->n_files; ctx.file++) {
        jbuf_truncate(&ctx.ptr, 0);
        error = check_schema(&ctx, set->files[ctx.file].root);
        if (error) {
            goto fail;
        }
    }
    qsort(set->nodes, set->n_nodes, sizeof *set->nodes, compare_nodes);
    error = resolve_refs(&ctx);
    if (error) {
        goto fail;
    }
    free_load_ctx(&ctx);
    *setp = set;
    return NULL;

fail:
    free_load_ctx(&ctx);
    jschema_destroy(set);
    return error;
}

void
jschema_destroy(struct jschema *set)
{
    if (!set) {
        return;
    }
    for (size_t i = 0; i < set->n_nodes; i++) {
        if (set->nodes[i].re) {
            regfree(set->nodes[i].re);
            free(set->nodes[i].re);
        }
    }
    free(set->nodes);
    for (size_t i = 0; i < set->n_files; i++) {
        free(set->files[i].name);
        json_decref(set->files[i].root);
    }
    free(set->files);
    free(set);
}

bool
jschema_has(const struct jschema *set, const char *name)
{
    return find_file(set, name, strlen(name)) != NULL;
}

/* Validation. */

/* The first failure: where, and why. */
struct verror {
    char *path;
    char *reason;
};

/* One step of the path from the instance's root: a key, or an index. */
struct vstep {
    const char *key;            /* NULL: 'index'. */
    size_t index;
};

struct vctx {
    const struct jschema *set;
    struct vstep *steps;        /* The path, built into text only for an */
    size_t n_steps, allocated;  /* error, since most values are valid. */
    int depth;
};

static void
verror_destroy(struct verror *e)
{
    if (e) {
        free(e->path);
        free(e->reason);
        free(e);
    }
}

static void
path_push(struct vctx *ctx, const char *key, size_t index)
{
    if (ctx->n_steps == ctx->allocated) {
        ctx->allocated = 2 * ctx->allocated + 16;
        ctx->steps = mslb_xrealloc(ctx->steps,
                               ctx->allocated * sizeof *ctx->steps);
    }
    ctx->steps[ctx->n_steps++] = (struct vstep) { key, index };
}

static void
path_pop(struct vctx *ctx)
{
    ctx->n_steps--;
}

/* The first 'n' steps as text, "services[0].backends[1].weight". */
static void
path_format(const struct vctx *ctx, size_t n, struct jbuf *b)
{
    for (size_t i = 0; i < n; i++) {
        const struct vstep *s = &ctx->steps[i];

        if (s->key) {
            if (i) {
                jbuf_puts(b, ".");
            }
            jbuf_puts(b, s->key);
        } else {
            jbuf_printf(b, "[%zu]", s->index);
        }
    }
}

static char *
path_string(const struct vctx *ctx)
{
    struct jbuf b = { NULL, 0, 0 };

    path_format(ctx, ctx->n_steps, &b);
    return b.s ? b.s : mslb_xstrdup("(top level)");
}

static struct verror * __attribute__((format(printf, 2, 3)))
vfail(const struct vctx *ctx, const char *fmt, ...)
{
    struct verror *e = mslb_xrealloc(NULL, sizeof *e);
    va_list args;

    va_start(args, fmt);
    if (vasprintf(&e->reason, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    e->path = path_string(ctx);
    return e;
}

/* A JSON value for a message: JSON-quoted so that it cannot break a log
 * line, and cut short (on a character boundary: the REST layer puts the
 * message in a JSON string, which must be valid UTF-8). */
static char *
quote_value(const json_t *v)
{
    enum { MAX = 64 };
    json_t *copy = NULL;
    char *s;

    if (json_is_string(v) && json_string_length(v) > MAX) {
        const char *str = json_string_value(v);
        size_t n = MAX;
        char buf[MAX + 4];

        while (n && (str[n] & 0xc0) == 0x80) {
            n--;
        }
        memcpy(buf, str, n);
        memcpy(buf + n, "...", 4);
        v = copy = json_string(buf);
    }
    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(copy);
    if (!s) {
        abort();
    }
    return s;
}

static void
format_number(struct jbuf *b, const json_t *n)
{
    if (json_is_integer(n)) {
        jbuf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
    } else {
        jbuf_printf(b, "%g", json_number_value(n));
    }
}

static void
range_phrase(struct jbuf *b, const struct jschema_node *node)
{
    if (node->minimum && node->maximum) {
        jbuf_puts(b, " from ");
        format_number(b, node->minimum);
        jbuf_puts(b, " to ");
        format_number(b, node->maximum);
    } else if (node->minimum) {
        jbuf_puts(b, " of at least ");
        format_number(b, node->minimum);
    } else if (node->maximum) {
        jbuf_puts(b, " of at most ");
        format_number(b, node->maximum);
    }
}

/* "must be a string", "must be an integer from 1 to 65535", "must be a
 * string or null"...: the types in the order the schema lists them. */
static struct verror *
type_fail(const struct vctx *ctx, const struct jschema_node *node)
{
    static const char *const phrases[] = {
        "a string", "an integer", "a number", "true or false", "an object",
        "an array", "null",
    };
    size_t n = json_is_array(node->type) ? json_array_size(node->type) : 1;
    struct jbuf b = { NULL, 0, 0 };
    struct verror *e;

    jbuf_puts(&b, "must be ");
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_is_array(node->type)
                          ? json_array_get(node->type, i) : node->type;
        int k = list_index(json_string_value(t), type_names,
                           ARRAY_SIZE(type_names));

        if (i) {
            jbuf_puts(&b, i == n - 1 ? " or " : ", ");
        }
        jbuf_puts(&b, phrases[k]);
        if ((1u << k) & (T_INTEGER | T_NUMBER)) {
            range_phrase(&b, node);
        }
    }
    e = vfail(ctx, "%s", b.s);
    free(b.s);
    return e;
}

static unsigned
instance_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return T_OBJECT;
    case JSON_ARRAY: return T_ARRAY;
    case JSON_STRING: return T_STRING;
    case JSON_INTEGER: return T_INTEGER | T_NUMBER;
    case JSON_REAL: return T_NUMBER;
    case JSON_TRUE: case JSON_FALSE: return T_BOOLEAN;
    case JSON_NULL: default: return T_NULL;
    }
}

/* "must be \"a\"", "must be \"a\" or \"b\"", "must be \"a\", \"b\" or
 * \"c\"", as in flows/model.c. */
static struct verror *
enum_fail(const struct vctx *ctx, const json_t *values)
{
    struct jbuf b = { NULL, 0, 0 };
    struct verror *e;
    size_t n = json_array_size(values);

    jbuf_puts(&b, "must be ");
    for (size_t i = 0; i < n; i++) {
        char *s = quote_value(json_array_get(values, i));

        if (i) {
            jbuf_puts(&b, i == n - 1 ? " or " : ", ");
        }
        jbuf_puts(&b, s);
        free(s);
    }
    e = vfail(ctx, "%s", b.s);
    free(b.s);
    return e;
}

static bool
is_mac(const char *s)
{
    static const char hex[] = "0123456789abcdefABCDEF";

    if (strlen(s) != 17) {
        return false;
    }
    for (int i = 0; i < 17; i++) {
        bool ok = i % 3 == 2 ? s[i] == ':' : strchr(hex, s[i]) != NULL;
        if (!ok) {
            return false;
        }
    }
    return true;
}

static struct verror *
check_format(const struct vctx *ctx, enum jformat format, const json_t *v)
{
    const char *s = json_string_value(v);
    unsigned char buf[sizeof(struct in6_addr)];
    const char *what;
    bool ok;

    switch (format) {
    case F_IP:
        ok = inet_pton(AF_INET, s, buf) == 1
             || inet_pton(AF_INET6, s, buf) == 1;
        what = "is not an IPv4 or IPv6 address";
        break;
    case F_IPV4:
        ok = inet_pton(AF_INET, s, buf) == 1;
        what = "is not an IPv4 address";
        break;
    case F_IPV6:
        ok = inet_pton(AF_INET6, s, buf) == 1;
        what = "is not an IPv6 address";
        break;
    case F_MAC:
    default:
        ok = is_mac(s);
        what = "is not a MAC address (xx:xx:xx:xx:xx:xx)";
        break;
    }
    /* The checks above stop at a NUL that the JSON text may carry. */
    if (!ok || strlen(s) != json_string_length(v)) {
        char *q = quote_value(v);
        struct verror *e = vfail(ctx, "%s %s", q, what);
        free(q);
        return e;
    }
    return NULL;
}

static size_t
utf8_length(const char *s, size_t n)
{
    size_t chars = 0;

    for (size_t i = 0; i < n; i++) {
        chars += ((unsigned char) s[i] & 0xc0) != 0x80;
    }
    return chars;
}

/* Numbers compare exactly when both are integers. */
static int
compare_numbers(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    } else {
        double x = json_number_value(a), y = json_number_value(b);
        return (x > y) - (x < y);
    }
}

/* A size out of "min"/"max" bounds: "x-error" if there is one, else e.g.
 * "must have at least 1 item". */
static struct verror *
size_fail(const struct vctx *ctx, const char *xerror, const char *verb,
          json_int_t min, json_int_t max, const char *one, const char *many)
{
    if (xerror) {
        return vfail(ctx, "%s", xerror);
    } else if (min >= 0 && max >= 0) {
        return vfail(ctx, "must %s %" JSON_INTEGER_FORMAT " to %"
                     JSON_INTEGER_FORMAT " %s", verb, min, max, many);
    } else if (min >= 0) {
        return vfail(ctx, "must %s at least %" JSON_INTEGER_FORMAT " %s",
                     verb, min, min == 1 ? one : many);
    } else {
        return vfail(ctx, "must %s at most %" JSON_INTEGER_FORMAT " %s",
                     verb, max, max == 1 ? one : many);
    }
}

static bool
out_of(size_t n, json_int_t min, json_int_t max)
{
    return (min >= 0 && n < (size_t) min) || (max >= 0 && n > (size_t) max);
}

static struct verror *validate(struct vctx *, const json_t *schema,
                               const json_t *v, const char *xerror);

static struct verror *
validate_string(struct vctx *ctx, const struct jschema_node *node,
                const json_t *v, const char *xerror)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    struct verror *e;

    if (node->format && (e = check_format(ctx, node->format, v))) {
        return e;
    }
    if ((node->min_length >= 0 || node->max_length >= 0)
        && out_of(utf8_length(s, n), node->min_length, node->max_length)) {
        return size_fail(ctx, xerror, "be", node->min_length,
                         node->max_length, "character", "characters");
    }
    if (node->re && (regexec(node->re, s, 0, NULL, 0) || strlen(s) != n)) {
        return xerror ? vfail(ctx, "%s", xerror)
               : vfail(ctx, "does not match pattern %s",
                       json_string_value(node->pattern));
    }
    return NULL;
}

static struct verror *
validate_object(struct vctx *ctx, const struct jschema_node *node,
                const json_t *v, const char *xerror)
{
    const char *key;
    json_t *value;
    size_t i;

    json_array_foreach (node->required, i, value) {
        const char *name = json_string_value(value);

        if (!json_object_get(v, name)) {
            struct verror *e;

            path_push(ctx, name, 0);
            e = vfail(ctx, "is required");
            path_pop(ctx);
            return e;
        }
    }
    if (out_of(json_object_size(v), node->min_properties,
               node->max_properties)) {
        return size_fail(ctx, xerror, "have", node->min_properties,
                         node->max_properties, "key", "keys");
    }
    /* jansson keeps members in document order. */
    json_object_foreach ((json_t *) v, key, value) {
        const json_t *sub = json_object_get(node->properties, key);
        struct verror *e = NULL;

        path_push(ctx, key, 0);
        if (sub) {
            e = validate(ctx, sub, value, NULL);
        } else if (json_is_false(node->additional)) {
            e = vfail(ctx, "unknown key");
        } else if (node->additional) {
            e = validate(ctx, node->additional, value, NULL);
        }
        path_pop(ctx);
        if (e) {
            return e;
        }
    }
    return NULL;
}

struct canon {
    char *text;
    size_t index;
};

static int
compare_canon(const void *a_, const void *b_)
{
    const struct canon *a = a_, *b = b_;
    int c = strcmp(a->text, b->text);

    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* The first item (in array order) equal to an earlier one: stores its
 * index in '*dupp' and the earlier one's in '*origp', or returns false.
 * Sorting canonical texts, not comparing all pairs, so that a 1 MiB body
 * cannot make this quadratic. */
static bool
find_duplicate(const json_t *array, size_t *dupp, size_t *origp)
{
    size_t n = json_array_size(array);
    struct canon *c = mslb_xrealloc(NULL, n * sizeof *c);
    bool found = false;

    for (size_t i = 0; i < n; i++) {
        c[i].text = json_dumps(json_array_get(array, i),
                               JSON_ENCODE_ANY | JSON_COMPACT
                               | JSON_SORT_KEYS);
        if (!c[i].text) {
            abort();
        }
        c[i].index = i;
    }
    qsort(c, n, sizeof *c, compare_canon);
    for (size_t i = 1; i < n; i++) {
        /* Only the second of a run of equal items counts: the others come
         * later in the array. */
        if (!strcmp(c[i].text, c[i - 1].text)
            && (i < 2 || strcmp(c[i - 1].text, c[i - 2].text))
            && (!found || c[i].index < *dupp)) {
            *dupp = c[i].index;
            *origp = c[i - 1].index;
            found = true;
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(c[i].text);
    }
    free(c);
    return found;
}

/* "duplicate of bridges[0]": the earlier item named as the array's own
 * last key names it. */
static struct verror *
duplicate_fail(struct vctx *ctx, size_t orig)
{
    struct jbuf b = { NULL, 0, 0 };
    struct verror *e;
    const char *dot;

    path_format(ctx, ctx->n_steps - 1, &b);
    jbuf_printf(&b, "[%zu]", orig);
    dot = strrchr(b.s, '.');
    e = vfail(ctx, "duplicate of %s", dot ? dot + 1 : b.s);
    free(b.s);
    return e;
}

static struct verror *
validate_array(struct vctx *ctx, const struct jschema_node *node,
               const json_t *v, const char *xerror)
{
    size_t dup = SIZE_MAX, orig = 0;
    json_t *item;
    size_t i;

    if (out_of(json_array_size(v), node->min_items, node->max_items)) {
        return size_fail(ctx, xerror, "have", node->min_items,
                         node->max_items, "item", "items");
    }
    if (node->unique_items) {
        find_duplicate(v, &dup, &orig);
    }
    json_array_foreach (v, i, item) {
        struct verror *e;

        path_push(ctx, NULL, i);
        e = node->items ? validate(ctx, node->items, item, NULL) : NULL;
        if (!e && i == dup) {
            e = duplicate_fail(ctx, orig);
        }
        path_pop(ctx);
        if (e) {
            return e;
        }
    }
    return NULL;
}

/* Of failed alternatives, the one that got deepest into the instance tells
 * most; if none got past this node, all their reasons together do. */
static struct verror *
alternatives_fail(const struct vctx *ctx, struct verror **errors, size_t n)
{
    char *here = path_string(ctx);
    struct verror *best = NULL;
    size_t best_len = 0;

    /* Every path is 'here' or below it. */
    for (size_t i = 0; i < n; i++) {
        if (strcmp(errors[i]->path, here)
            && strlen(errors[i]->path) > best_len) {
            best = errors[i];
            best_len = strlen(best->path);
        }
    }
    free(here);
    if (best) {
        for (size_t i = 0; i < n; i++) {
            if (errors[i] != best) {
                verror_destroy(errors[i]);
            }
        }
        return best;
    } else {
        struct jbuf b = { NULL, 0, 0 };
        struct verror *e;

        for (size_t i = 0; i < n; i++) {
            if (i) {
                jbuf_puts(&b, ", or ");
            }
            jbuf_puts(&b, errors[i]->reason);
            verror_destroy(errors[i]);
        }
        e = vfail(ctx, "%s", b.s);
        free(b.s);
        return e;
    }
}

static struct verror *
validate_alternatives(struct vctx *ctx, const json_t *list, bool one,
                      const json_t *v, const char *xerror)
{
    size_t n = json_array_size(list);
    struct verror **errors = calloc(n, sizeof *errors);
    size_t n_ok = 0, first_ok = 0;
    struct verror *e = NULL;

    if (!errors) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        errors[i] = validate(ctx, json_array_get(list, i), v, xerror);
        if (errors[i]) {
            continue;
        }
        if (!n_ok++) {
            first_ok = i;
            if (!one) {
                break;
            }
        } else {
            e = vfail(ctx, "matches more than one alternative (%zu and %zu "
                      "of oneOf)", first_ok, i);
            break;
        }
    }
    if (!n_ok) {
        e = alternatives_fail(ctx, errors, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            verror_destroy(errors[i]);
        }
    }
    free(errors);
    return e;
}

static struct verror *
validate_node(struct vctx *ctx, const struct jschema_node *node,
              const json_t *v, const char *xerror)
{
    unsigned type = instance_type(v);
    struct verror *e;

    /* The use site words failures: see jschema.h. */
    if (!xerror) {
        xerror = node->xerror;
    }
    if (node->ref && (e = validate(ctx, node->ref, v, xerror))) {
        return e;
    }
    if (node->types && !(node->types & type)) {
        return type_fail(ctx, node);
    }
    if (node->cnst && !json_equal((json_t *) node->cnst, (json_t *) v)) {
        char *q = quote_value(node->cnst);
        e = vfail(ctx, "must be %s", q);
        free(q);
        return e;
    }
    if (node->enm) {
        size_t i;
        json_t *x;

        json_array_foreach (node->enm, i, x) {
            if (json_equal(x, (json_t *) v)) {
                break;
            }
        }
        if (i == json_array_size(node->enm)) {
            return enum_fail(ctx, node->enm);
        }
    }

    e = NULL;
    if (type & T_STRING) {
        e = validate_string(ctx, node, v, xerror);
    } else if (type & T_NUMBER) {
        if ((node->minimum && compare_numbers(v, node->minimum) < 0)
            || (node->maximum && compare_numbers(v, node->maximum) > 0)) {
            /* Name the type the schema asks for. */
            bool integer = (node->types & T_INTEGER)
                           && !(node->types & T_NUMBER);
            struct jbuf b = { NULL, 0, 0 };

            jbuf_puts(&b, integer ? "an integer" : "a number");
            range_phrase(&b, node);
            e = vfail(ctx, "must be %s", b.s);
            free(b.s);
        }
    } else if (type & T_OBJECT) {
        e = validate_object(ctx, node, v, xerror);
    } else if (type & T_ARRAY) {
        e = validate_array(ctx, node, v, xerror);
    }
    if (e) {
        return e;
    }

    if (node->all_of) {
        size_t i;
        json_t *sub;

        json_array_foreach (node->all_of, i, sub) {
            if ((e = validate(ctx, sub, v, xerror))) {
                return e;
            }
        }
    }
    if (node->any_of
        && (e = validate_alternatives(ctx, node->any_of, false, v, xerror))) {
        return e;
    }
    if (node->one_of) {
        return validate_alternatives(ctx, node->one_of, true, v, xerror);
    }
    return NULL;
}

/* Validates 'v' against 'schema'.  'xerror' is the "x-error" of the node
 * whose "$ref" (or allOf, anyOf, oneOf) led here. */
static struct verror *
validate(struct vctx *ctx, const json_t *schema, const json_t *v,
         const char *xerror)
{
    struct verror *e;

    if (json_is_boolean(schema)) {
        return json_is_true(schema) ? NULL : vfail(ctx, "is not allowed");
    }
    if (ctx->depth >= JSCHEMA_MAX_DEPTH) {
        return vfail(ctx, "is nested too deeply for the schema");
    }
    ctx->depth++;
    e = validate_node(ctx, find_node(ctx->set, schema), v, xerror);
    ctx->depth--;
    return e;
}

char *
jschema_validate_path(const struct jschema *set, const char *name,
                      const json_t *instance, char **pathp)
{
    const struct jschema_file *f = find_file(set, name, strlen(name));
    struct vctx ctx = { .set = set };
    struct verror *e;
    char *msg;

    if (!f) {
        e = vfail(&ctx, "no schema named \"%s\"", name);
    } else {
        e = validate(&ctx, f->root, instance, NULL);
    }
    free(ctx.steps);
    if (pathp) {
        *pathp = NULL;
    }
    if (!e) {
        return NULL;
    }
    msg = mslb_xasprintf("%s: %s", e->path, e->reason);
    if (pathp) {
        *pathp = e->path;
        e->path = NULL;
    }
    verror_destroy(e);
    return msg;
}

char *
jschema_validate(const struct jschema *set, const char *name,
                 const json_t *instance)
{
    return jschema_validate_path(set, name, instance, NULL);
}
