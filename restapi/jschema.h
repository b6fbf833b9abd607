/* JSON Schema validation of REST bodies and the model file.
 *
 * A subset of draft 2020-12, enough for the files in schemas/: type,
 * properties, required, additionalProperties, items, minItems, maxItems,
 * uniqueItems, minProperties, maxProperties, enum, const, minimum, maximum,
 * minLength, maxLength, pattern (POSIX ERE), format (ip, ipv4, ipv6, mac),
 * $ref (a file of the set, optionally with a JSON pointer), $defs, allOf,
 * anyOf, oneOf.  Loading rejects any other keyword (except annotations and
 * "x-" vendor keywords), so a schema never asks for a check that silently
 * does not happen.
 *
 * Errors read like those of flows/model.c, "path: reason", e.g.
 * "backends[1].weight: must be an integer from 1 to 10000", so that the REST
 * API and `mslbd --check` speak alike.  The vendor keyword "x-error" gives
 * the reason for failed minLength, maxLength, pattern, minItems, maxItems,
 * minProperties and maxProperties checks in the node that holds it (and,
 * on a node with "$ref", in the schema it refers to). */
#ifndef MSLB_JSCHEMA_H
#define MSLB_JSCHEMA_H 1

#include <stdbool.h>
#include <jansson.h>

struct jschema;

/* Loads every *.schema.json in 'dir' and checks that each is a schema this
 * module understands and that every "$ref" resolves.  Returns NULL and
 * stores a new set in '*setp' (free with jschema_destroy()), or returns a
 * malloc'd message such as "DIR/service.schema.json#/properties/port:
 * unknown keyword \"minimun\"" and stores NULL. */
char *jschema_load_dir(const char *dir, struct jschema **setp)
    __attribute__((warn_unused_result));
void jschema_destroy(struct jschema *);

/* Whether the set holds schema file 'name', e.g. "service.schema.json". */
bool jschema_has(const struct jschema *, const char *name);

/* Validates 'instance' against schema file 'name'.  Returns NULL if it is
 * valid, otherwise a malloc'd "path: reason" about the first offending
 * field in document order ("(top level)" for the instance itself); within
 * an object, a missing required member comes first.  The set is not
 * modified, so threads may share it. */
char *jschema_validate(const struct jschema *, const char *name,
                       const json_t *instance)
    __attribute__((warn_unused_result));

/* Like jschema_validate(), and on failure also stores in '*pathp' a
 * malloc'd copy of the message's path part (such as "backends[1].weight"
 * or "(top level)"), for the "path" member of an error body: splitting the
 * message is ambiguous when a key contains ": ".  Stores NULL when
 * 'instance' is valid. */
char *jschema_validate_path(const struct jschema *, const char *name,
                            const json_t *instance, char **pathp)
    __attribute__((warn_unused_result));

#endif /* jschema.h */
