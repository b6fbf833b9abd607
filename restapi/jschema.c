/* JSON Schema validation (a draft 2020-12 subset): see jschema.h. */
#include "jschema.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
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

static void *
xrealloc_(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        abort();
    }
    return p;
}

static char *
xstrdup_(const char *s)
{
    char *p = strdup(s);
    if (!p) {
        abort();
    }
    return p;
}

static char * __attribute__((format(printf, 1, 2)))
xasprintf_(const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        abort();
    }
    va_end(args);
    return s;
}

/* A growing string: the instance path while validating, the JSON pointer
 * while loading. */
struct jbuf {
    char *s;
    size_t len, cap;
};

static void
jbuf_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = xrealloc_(b->s, b->cap);
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

#define IN_LIST(S, LIST) (list_index(S, LIST, sizeof LIST / sizeof *LIST) >= 0)

struct loadctx {
    struct jschema *set;
    const char *dir;
    size_t file;                /* The file being checked. */
    struct jbuf ptr;            /* JSON pointer to the node being checked. */
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
    msg = xasprintf_("%s/%s%s%s: %s", ctx->dir,
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
        *reasonp = xasprintf_("$ref \"%s\": no schema file \"%.*s\" in the "
                              "directory", ref, (int) n, fname);
        return NULL;
    }
    node = f->root;
    if (*frag && *frag != '/') {
        *reasonp = xasprintf_("$ref \"%s\": only JSON pointer fragments are "
                              "supported", ref);
        return NULL;
    }
    while (*frag == '/') {
        const char *end = strchr(frag + 1, '/');
        size_t len = end ? (size_t) (end - frag - 1) : strlen(frag + 1);
        char *token = xrealloc_(NULL, len + 1);
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
        } else if (json_is_array(node) && k && strspn(token, "0123456789") == k) {
            node = json_array_get(node, strtoul(token, NULL, 10));
        } else {
            node = NULL;
        }
        free(token);
        if (!node) {
            *reasonp = xasprintf_("$ref \"%s\" does not resolve", ref);
            return NULL;
        }
        frag += 1 + len;
    }
    if (!json_is_object(node) && !json_is_boolean(node)) {
        *reasonp = xasprintf_("$ref \"%s\" is not a schema", ref);
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

        node->re = xrealloc_(NULL, sizeof *node->re);
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
        node->ref = resolve_ref(ctx->set, ctx->file,
                                json_string_value(value), &error);
        if (!node->ref) {
            char *msg = lerr(ctx, "%s", error);
            free(error);
            return msg;
        }
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
                                       type_names, 7);
    }
    json_array_foreach (node->type, i, t) {
        node->types |= 1u << list_index(json_string_value(t), type_names, 7);
    }
    node->enm = json_object_get(s, "enum");
    node->cnst = json_object_get(s, "const");
    node->format = format ? 1 + list_index(json_string_value(format),
                                           format_names, 4) : F_NONE;
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

        for (i = 0; i < sizeof keywords / sizeof *keywords; i++) {
            if (!strcmp(keywords[i].name, key)) {
                break;
            }
        }
        if (i == sizeof keywords / sizeof *keywords) {
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
    {
        struct jschema *set = ctx->set;

        if (set->n_nodes == set->allocated_nodes) {
            set->allocated_nodes = 2 * set->allocated_nodes + 16;
            set->nodes = xrealloc_(set->nodes, set->allocated_nodes
                                   * sizeof *set->nodes);
        }
        set->nodes[set->n_nodes++] = node;
    }
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

static bool
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n > m && !strcmp(s + n - m, suffix);
}

char *
jschema_load_dir(const char *dir, struct jschema **setp)
{
    struct jschema *set = xrealloc_(NULL, sizeof *set);
    struct loadctx ctx = { .set = set, .dir = dir };
    struct dirent *de;
    char *error = NULL;
    DIR *d;

    *setp = NULL;
    memset(set, 0, sizeof *set);
    d = opendir(dir);
    if (!d) {
        error = xasprintf_("%s: %s", dir, strerror(errno));
        goto fail;
    }
    while ((de = readdir(d))) {
        if (has_suffix(de->d_name, JSCHEMA_SUFFIX)) {
            set->files = xrealloc_(set->files,
                                   (set->n_files + 1) * sizeof *set->files);
            set->files[set->n_files++] = (struct jschema_file) {
                xstrdup_(de->d_name), NULL
            };
        }
    }
    closedir(d);
    if (!set->n_files) {
        error = xasprintf_("%s: no *" JSCHEMA_SUFFIX " files", dir);
        goto fail;
    }
    qsort(set->files, set->n_files, sizeof *set->files, compare_files);

    /* All files first: a "$ref" may point forward. */
    for (size_t i = 0; i < set->n_files; i++) {
        char *path = xasprintf_("%s/%s", dir, set->files[i].name);
        json_error_t jerr;

        set->files[i].root = json_load_file(path, JSON_REJECT_DUPLICATES,
                                            &jerr);
        if (!set->files[i].root) {
            error = xasprintf_("%s:%d:%d: %s", path, jerr.line, jerr.column,
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
    free(ctx.ptr.s);
    *setp = set;
    return NULL;

fail:
    free(ctx.ptr.s);
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

