/* JSON Schema validation: schemas/ accept the documented bodies and refuse
 * bad ones with the documented "path: reason"; every example in the docs
 * and the golden configurations validate.
 *
 * Usage: test_jschema [SOURCE_DIR]   (default: the current directory) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "jschema.h"
#include "mslb/model.h"

#include <jansson.h>

static const char *src_dir;
static struct jschema *schemas;

static json_t *
parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                           &jerr);

    if (!j) {
        print_error("bad test JSON: %s\n%s\n", jerr.text, text);
        fail();
    }
    return j;
}

static void
expect_valid_in(const struct jschema *set, const char *schema,
                const char *text)
{
    json_t *j = parse(text);
    char *error = jschema_validate(set, schema, j);

    if (error) {
        print_error("schema:   %s\ninput:    %s\nexpected: (valid)\n"
                    "got:      %s\n", schema, text, error);
        fail();
    }
    json_decref(j);
}

static void
expect_error_in(const struct jschema *set, const char *schema,
                const char *text, const char *expected)
{
    json_t *j = parse(text);
    char *error = jschema_validate(set, schema, j);

    if (!error || strcmp(error, expected)) {
        print_error("schema:   %s\ninput:    %s\nexpected: %s\ngot:      %s\n",
                    schema, text, expected, error ? error : "(valid)");
        fail();
    }
    free(error);
    json_decref(j);
}

static char *
read_text(const char *name)
{
    FILE *f = fopen(name, "r");
    char *text = NULL;
    size_t size = 0;

    if (!f) {
        print_error("%s: cannot open\n", name);
        fail();
    }
    if (getdelim(&text, &size, '\0', f) < 0) {
        text = strdup("");
    }
    fclose(f);
    return text;
}

static char *
src_path(const char *rel)
{
    char *path;

    assert_true(asprintf(&path, "%s/%s", src_dir, rel) > 0);
    return path;
}

/* Bodies and their failures. */

#define BE1 "{\"name\":\"s1\",\"ip\":\"198.18.1.11\"," \
    "\"mac\":\"02:00:00:00:01:11\"}"
#define BE2 "{\"name\":\"s2\",\"ip\":\"198.18.1.12\",\"port\":8080," \
    "\"mac\":\"02:00:00:00:01:12\",\"weight\":10000,\"state\":\"drain\"}"
#define SVC_HEAD "\"name\":\"web\",\"vip\":\"198.18.0.100\"," \
    "\"protocol\":\"tcp\",\"port\":80,\"bridges\":[\"br-lb\"]"
/* A bridge's start, up to its ports. */
#define BR_HEAD "{\"name\":\"b\",\"mac\":\"0a:00:00:00:00:01\","
#define BRIDGE "{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\"," \
    "\"frontend_port\":\"front\"}"
#define STATUS_TAIL "\"role\":\"first\",\"ports\":[]," \
    "\"desired_generation\":1,\"installed_generation\":null," \
    "\"flows\":0,\"groups\":0}"

static void
test_valid(void **state)
{
    static const struct { const char *schema, *text; } cases[] = {
        { "backend.schema.json", BE1 },
        { "backend.schema.json", BE2 },
        { "backend.schema.json", "{\"name\":\"v6\",\"ip\":\"2001:db8::1\","
          "\"mac\":\"02:00:00:00:01:11\",\"state\":\"down\",\"weight\":1}" },
        { "backend-patch.schema.json", "{\"weight\":1}" },
        { "backend-patch.schema.json", "{\"state\":\"up\",\"weight\":7}" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":[]}" },
        { "service.schema.json", "{" SVC_HEAD ",\"mode\":\"nat\","
          "\"backends\":[" BE1 "," BE2 "]}" },
        { "bridge.schema.json", BRIDGE },
        { "bridge.schema.json", "{\"name\":\"a.b_c-15chars-x\","
          "\"datapath_id\":\"FFFFFFFFFFFFFFFF\",\"mac\":\"0A:0b:00:00:00:01\","
          "\"frontend_port\":\"f\",\"backend_port\":\"b\","
          "\"gateways\":[\"10.0.0.1\",\"10.0.0.2\"],\"ct_zone\":65535}" },
        { "bridge.schema.json", "{\"name\":\"b\",\"datapath_id\":\"0d1\","
          "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"f\"}" },
        { "model.schema.json", "{\"bridges\":[]}" },
        { "model.schema.json", "{\"bridges\":[" BRIDGE "],\"services\":[{"
          SVC_HEAD ",\"backends\":[" BE1 "]}]}" },
        { "error.schema.json", "{\"error\":{\"code\":\"unauthorized\","
          "\"message\":\"missing bearer token\",\"path\":null}}" },
        { "write-result.schema.json", "{\"generation\":1,\"installed\":false,"
          "\"bridge\":" BRIDGE "}" },
        { "service-list.schema.json", "{\"generation\":0,\"services\":[]}" },
        { "bridge-status.schema.json", "{\"name\":\"br-lb\","
          "\"configured\":false,\"connected\":true,"
          "\"datapath_id\":\"00000000000000d1\","
          "\"openflow_version\":\"OpenFlow13\"," STATUS_TAIL },
        { "bridge-list.schema.json", "{\"bridges\":[]}" },
        { "health.schema.json", "{\"status\":\"ok\",\"generation\":3,"
          "\"uptime_seconds\":0,\"bridges\":{\"configured\":0,"
          "\"connected\":0,\"in_step\":0}}" },
        { "stats.schema.json", "{\"generation\":3,\"services\":[{\"name\":"
          "\"web\",\"packets\":0,\"bytes\":0,\"backends\":[{\"name\":\"s1\","
          "\"packets\":1,\"bytes\":60,\"sessions\":1}]}]}" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_valid_in(schemas, cases[i].schema, cases[i].text);
    }
}

static void
test_errors(void **state)
{
    static const struct {
        const char *schema, *text, *expected;
    } cases[] = {
        /* Backend: every member, wrong type and out of range. */
        { "backend.schema.json", "[]", "(top level): must be an object" },
        { "backend.schema.json", "null", "(top level): must be an object" },
        { "backend.schema.json",
          "{\"ip\":\"198.18.1.11\",\"mac\":\"02:00:00:00:01:11\"}",
          "name: is required" },
        { "backend.schema.json", "{\"nmae\":\"s1\"}", "name: is required" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"198.18.1.11\"}",
          "mac: is required" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"198.18.1.11\","
          "\"mac\":\"02:00:00:00:01:11\",\"wieght\":2}",
          "wieght: unknown key" },
        { "backend.schema.json", "{\"name\":5,\"ip\":\"198.18.1.11\","
          "\"mac\":\"02:00:00:00:01:11\"}", "name: must be a string" },
        { "backend.schema.json", "{\"name\":\"\",\"ip\":\"198.18.1.11\","
          "\"mac\":\"02:00:00:00:01:11\"}",
          "name: must be 1 to 63 characters of A-Z a-z 0-9 . _ -" },
        { "backend.schema.json", "{\"name\":\"a b\",\"ip\":\"198.18.1.11\","
          "\"mac\":\"02:00:00:00:01:11\"}",
          "name: must be 1 to 63 characters of A-Z a-z 0-9 . _ -" },
        { "backend.schema.json", "{\"name\":\"s\\u00e9\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\"}",
          "name: must be 1 to 63 characters of A-Z a-z 0-9 . _ -" },
        { "backend.schema.json", "{\"name\":\"0123456789012345678901234567890"
          "123456789012345678901234567890123\",\"ip\":\"198.18.1.11\","
          "\"mac\":\"02:00:00:00:01:11\"}",
          "name: must be 1 to 63 characters of A-Z a-z 0-9 . _ -" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3\","
          "\"mac\":\"02:00:00:00:01:11\"}",
          "ip: \"1.2.3\" is not an IPv4 or IPv6 address" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"fe80::1%eth0\","
          "\"mac\":\"02:00:00:00:01:11\"}",
          "ip: \"fe80::1%eth0\" is not an IPv4 or IPv6 address" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":3232235777,"
          "\"mac\":\"02:00:00:00:01:11\"}", "ip: must be a string" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"port\":0}",
          "port: must be an integer from 1 to 65535" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"port\":65536}",
          "port: must be an integer from 1 to 65535" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"port\":\"80\"}",
          "port: must be an integer from 1 to 65535" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"port\":80.0}",
          "port: must be an integer from 1 to 65535" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01\"}",
          "mac: \"02:00:00:00:01\" is not a MAC address (xx:xx:xx:xx:xx:xx)" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02-00-00-00-01-11\"}",
          "mac: \"02-00-00-00-01-11\" is not a MAC address "
          "(xx:xx:xx:xx:xx:xx)" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:1g\"}",
          "mac: \"02:00:00:00:01:1g\" is not a MAC address "
          "(xx:xx:xx:xx:xx:xx)" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"weight\":0}",
          "weight: must be an integer from 1 to 10000" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"weight\":10001}",
          "weight: must be an integer from 1 to 10000" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"weight\":1.5}",
          "weight: must be an integer from 1 to 10000" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"weight\":true}",
          "weight: must be an integer from 1 to 10000" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"state\":\"off\"}",
          "state: must be \"up\", \"drain\" or \"down\"" },
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\"1.2.3.4\","
          "\"mac\":\"02:00:00:00:01:11\",\"state\":1}",
          "state: must be a string" },
        /* Document order: the first offending key. */
        { "backend.schema.json",
          "{\"name\":\"s1\",\"ip\":\"x\",\"mac\":\"y\"}",
          "ip: \"x\" is not an IPv4 or IPv6 address" },
        { "backend.schema.json",
          "{\"mac\":\"y\",\"name\":\"s1\",\"ip\":\"x\"}",
          "mac: \"y\" is not a MAC address (xx:xx:xx:xx:xx:xx)" },
        { "backend.schema.json",
          "{\"bogus\":1,\"name\":\"s1\",\"ip\":\"x\",\"mac\":\"y\"}",
          "bogus: unknown key" },
        /* Long values are cut short in messages. */
        { "backend.schema.json", "{\"name\":\"s1\",\"ip\":\""
          "1111111111222222222233333333334444444444"
          "555555555566666666667777777777\",\"mac\":\"y\"}",
          "ip: \"1111111111222222222233333333334444444444555555555566666666"
          "667777...\" is not an IPv4 or IPv6 address" },

        /* Backend change. */
        { "backend-patch.schema.json", "{}",
          "(top level): must set weight or state" },
        { "backend-patch.schema.json", "{\"weight\":0}",
          "weight: must be an integer from 1 to 10000" },
        { "backend-patch.schema.json", "{\"state\":\"gone\"}",
          "state: must be \"up\", \"drain\" or \"down\"" },
        { "backend-patch.schema.json", "{\"name\":\"s1\"}",
          "name: unknown key" },

        /* Service, and backends through its $ref. */
        { "service.schema.json", "{\"name\":\"web\"}", "vip: is required" },
        { "service.schema.json", "{\"name\":\"web\",\"vip\":\"1.2.3.4\","
          "\"protocol\":\"tcp\",\"port\":80,\"bridges\":[\"b\"]}",
          "backends: is required" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":[],\"x\":1}",
          "x: unknown key" },
        { "service.schema.json", "{\"name\":\"web\",\"vip\":\"198.18.0.100\","
          "\"protocol\":\"sctp\",\"port\":80,\"bridges\":[\"br-lb\"],"
          "\"backends\":[]}", "protocol: must be \"tcp\", \"udp\" or \"any\"" },
        { "service.schema.json", "{" SVC_HEAD ",\"mode\":\"dsr\","
          "\"backends\":[]}", "mode: must be \"nat\", \"dr\", \"tun\", \"l3dsr\", "
          "\"mslb\" or \"local\"" },
        { "service.schema.json", "{\"name\":\"web\",\"vip\":\"198.18.0.100\","
          "\"protocol\":\"tcp\",\"port\":80,\"bridges\":[],"
          "\"backends\":[]}", "bridges: must name at least one bridge" },
        { "service.schema.json", "{\"name\":\"web\",\"vip\":\"198.18.0.100\","
          "\"protocol\":\"tcp\",\"port\":80,\"bridges\":\"br-lb\","
          "\"backends\":[]}", "bridges: must be an array" },
        { "service.schema.json", "{\"name\":\"web\",\"vip\":\"198.18.0.100\","
          "\"protocol\":\"tcp\",\"port\":80,\"bridges\":[\"a\",\"b\",\"a\"],"
          "\"backends\":[]}", "bridges[2]: duplicate of bridges[0]" },
        { "service.schema.json", "{\"name\":\"web\",\"vip\":\"198.18.0.100\","
          "\"protocol\":\"tcp\",\"port\":80,\"bridges\":[\"a\",\"br lb\"],"
          "\"backends\":[]}",
          "bridges[1]: must be 1 to 15 characters of A-Z a-z 0-9 . _ -" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":{}}",
          "backends: must be an array" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":[5]}",
          "backends[0]: must be an object" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":[" BE1 "," BE2
          ",{\"name\":\"s3\",\"ip\":\"198.18.1.13\",\"mac\":\"zz\"}]}",
          "backends[2].mac: \"zz\" is not a MAC address (xx:xx:xx:xx:xx:xx)" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":[" BE1
          ",{\"name\":\"s2\",\"ip\":\"198.18.1.12\","
          "\"mac\":\"02:00:00:00:01:12\","
          "\"weight\":-1}]}",
          "backends[1].weight: must be an integer from 1 to 10000" },
        { "service.schema.json", "{" SVC_HEAD ",\"backends\":[" BE1
          ",{\"ip\":\"198.18.1.12\"}]}", "backends[1].name: is required" },

        /* Bridge. */
        { "bridge.schema.json", BR_HEAD "\"frontend_port\":\"front\","
          "\"color\":\"red\"}",
          "color: unknown key" },
        { "bridge.schema.json", BR_HEAD "\"role\":\"middle\"}",
          "role: must be \"first\" or \"final\"" },
        { "bridge.schema.json", BR_HEAD "\"tunnel_ports\":{\"ipip\":\"t0\"}}",
          "tunnel_ports.ipip: unknown key" },
        { "bridge.schema.json", "{\"name\":\"0123456789abcdef\","
          "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"front\"}",
          "name: must be 1 to 15 characters of A-Z a-z 0-9 . _ -" },
        { "bridge.schema.json", "{\"name\":\"b\",\"datapath_id\":\"0000\","
          "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"f\"}",
          "datapath_id: must be a nonzero hexadecimal string of up to 16 "
          "digits" },
        { "bridge.schema.json", "{\"name\":\"b\",\"datapath_id\":\"0x1\","
          "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"f\"}",
          "datapath_id: must be a nonzero hexadecimal string of up to 16 "
          "digits" },
        { "bridge.schema.json", "{\"name\":\"b\",\"datapath_id\":"
          "\"00000000000000001\",\"mac\":\"0a:00:00:00:00:01\","
          "\"frontend_port\":\"f\"}",
          "datapath_id: must be a nonzero hexadecimal string of up to 16 "
          "digits" },
        { "bridge.schema.json", "{\"name\":\"b\",\"datapath_id\":\"\","
          "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"f\"}",
          "datapath_id: must be a nonzero hexadecimal string of up to 16 "
          "digits" },
        { "bridge.schema.json", BR_HEAD
          "\"frontend_port\":\"\"}",
          "frontend_port: must be a port name of 1 to 15 characters" },
        { "bridge.schema.json", BR_HEAD
          "\"frontend_port\":\"f\",\"backend_port\":\"b/1\"}",
          "backend_port: must be a port name of 1 to 15 characters" },
        { "bridge.schema.json", BR_HEAD
          "\"frontend_port\":\"f\",\"gateways\":[\"10.0.0.1\",\"198.18.0.300\"]}",
          "gateways[1]: \"198.18.0.300\" is not an IPv4 or IPv6 address" },
        { "bridge.schema.json", BR_HEAD
          "\"frontend_port\":\"f\",\"gateways\":[1]}",
          "gateways[0]: must be a string" },
        { "bridge.schema.json", BR_HEAD
          "\"frontend_port\":\"f\",\"gateways\":[\"10.0.0.1\",\"10.0.0.1\"]}",
          "gateways[1]: duplicate of gateways[0]" },
        { "bridge.schema.json", BR_HEAD
          "\"frontend_port\":\"f\",\"ct_zone\":0}",
          "ct_zone: must be an integer from 1 to 65535" },

        /* The model, through two levels of $ref. */
        { "model.schema.json", "\"x\"", "(top level): must be an object" },
        { "model.schema.json", "{\"services\":[]}", "bridges: is required" },
        { "model.schema.json", "{\"bridges\":{}}",
          "bridges: must be an array" },
        { "model.schema.json", "{\"bridges\":[" BRIDGE ",{\"name\":\"b\","
          "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"f\","
          "\"color\":1}]}", "bridges[1].color: unknown key" },
        { "model.schema.json", "{\"bridges\":[],\"services\":[{" SVC_HEAD
          ",\"backends\":[]},{" SVC_HEAD ",\"backends\":[" BE1 ","
          "{\"name\":\"s2\",\"ip\":\"1.2.3.4\",\"mac\":\"02:00:00:00:01:12\","
          "\"weight\":100000}]}]}",
          "services[1].backends[1].weight: must be an integer from 1 to "
          "10000" },

        /* Responses. */
        { "error.schema.json", "{\"error\":{\"code\":\"oops\",\"message\":"
          "\"m\",\"path\":null}}", "error.code: must be \"malformed_json\", "
          "\"invalid\", \"conflict\", \"not_found\", \"method_not_allowed\", "
          "\"payload_too_large\", \"unsupported_media_type\", "
          "\"unauthorized\", \"unavailable\", \"internal\", "
          "\"bad_request\", \"timeout\", \"length_required\", "
          "\"uri_too_long\", \"headers_too_large\" or "
          "\"http_version_not_supported\"" },
        { "error.schema.json", "{\"error\":{\"code\":\"invalid\","
          "\"message\":\"m\",\"path\":5}}",
          "error.path: must be a string or null" },
        { "error.schema.json", "{\"error\":{\"code\":\"invalid\","
          "\"message\":\"m\"}}", "error.path: is required" },
        { "write-result.schema.json", "{\"generation\":0,\"installed\":true}",
          "generation: must be an integer of at least 1" },
        { "write-result.schema.json",
          "{\"generation\":1,\"installed\":\"yes\"}",
          "installed: must be true or false" },
        { "write-result.schema.json", "{\"generation\":1,\"installed\":true,"
          "\"service\":{" SVC_HEAD ",\"backends\":[{\"name\":\"s1\","
          "\"ip\":\"198.18.1\",\"mac\":\"02:00:00:00:01:11\"}]}}",
          "service.backends[0].ip: \"198.18.1\" is not an IPv4 or IPv6 "
          "address" },
        { "bridge-status.schema.json", "{\"name\":\"br-lb\","
          "\"configured\":true,\"connected\":true,\"datapath_id\":\"d1\","
          "\"openflow_version\":\"OpenFlow13\"," STATUS_TAIL,
          "datapath_id: does not match pattern ^[0-9a-f]{16}$" },
        { "bridge-status.schema.json", "{\"name\":\"br-lb\","
          "\"configured\":true,\"connected\":true,\"datapath_id\":null,"
          "\"openflow_version\":\"OpenFlow16\"," STATUS_TAIL,
          "openflow_version: must be \"OpenFlow10\", \"OpenFlow11\", "
          "\"OpenFlow12\", \"OpenFlow13\", \"OpenFlow14\", \"OpenFlow15\" or "
          "null" },
        { "bridge-status.schema.json", "{\"name\":\"br-lb\","
          "\"configured\":true,\"connected\":true,\"datapath_id\":null,"
          "\"openflow_version\":null,\"role\":\"first\",\"ports\":[{\"name\":"
          "\"f\",\"number\":0}],\"desired_generation\":1,"
          "\"installed_generation\":null,\"flows\":0,\"groups\":0}",
          "ports[0].number: must be an integer from 1 to 65535" },
        { "bridge-status.schema.json", "{\"name\":\"br-lb\","
          "\"configured\":true,\"connected\":true,\"datapath_id\":null,"
          "\"openflow_version\":null,\"role\":\"first\",\"ports\":[],"
          "\"desired_generation\":1,\"installed_generation\":-1,"
          "\"flows\":0,\"groups\":0}",
          "installed_generation: must be an integer of at least 0" },
        { "bridge-status.schema.json", "{\"name\":\"br-lb\","
          "\"configured\":true,\"connected\":true,\"datapath_id\":null,"
          "\"openflow_version\":null,\"role\":\"first\",\"ports\":[],"
          "\"desired_generation\":1,\"installed_generation\":\"1\","
          "\"flows\":0,\"groups\":0}",
          "installed_generation: must be an integer of at least 0 or null" },
        { "bridge-list.schema.json", "{\"bridges\":[{\"name\":\"b\"}]}",
          "bridges[0].configured: is required" },
        { "health.schema.json", "{\"status\":\"bad\",\"generation\":1,"
          "\"uptime_seconds\":1,\"bridges\":{\"configured\":0,"
          "\"connected\":0,\"in_step\":0}}",
          "status: must be \"ok\" or \"degraded\"" },
        { "health.schema.json", "{\"status\":\"ok\",\"generation\":1,"
          "\"uptime_seconds\":-0.5,\"bridges\":{\"configured\":0,"
          "\"connected\":0,\"in_step\":0}}",
          "uptime_seconds: must be a number of at least 0" },
        { "health.schema.json", "{\"status\":\"ok\",\"generation\":1,"
          "\"uptime_seconds\":\"1\",\"bridges\":{\"configured\":0,"
          "\"connected\":0,\"in_step\":0}}",
          "uptime_seconds: must be a number of at least 0" },
        { "health.schema.json", "{\"status\":\"ok\",\"generation\":1,"
          "\"uptime_seconds\":1,\"bridges\":{\"configured\":0,"
          "\"connected\":0}}", "bridges.in_step: is required" },
        { "stats.schema.json", "{\"generation\":3,\"services\":[{\"name\":"
          "\"web\",\"packets\":0,\"bytes\":0,\"backends\":[{\"name\":\"s1\","
          "\"packets\":1,\"bytes\":60,\"sessions\":-1}]}]}",
          "services[0].backends[0].sessions: must be an integer of at least "
          "0" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_error_in(schemas, cases[i].schema, cases[i].text,
                        cases[i].expected);
    }
}

/* Where the schema and flows/model.c check the same thing, they must say
 * the same, so that the REST API and `mslbd --check` agree. */
static void
test_model_agreement(void **state)
{
#define M_BRIDGE(EXTRA) "{\"bridges\":[{\"name\":\"br-lb\"," \
    "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"front\"" EXTRA "}]"
#define M_SERVICE(EXTRA, BACKENDS) M_BRIDGE("") ",\"services\":[{" \
    "\"name\":\"web\",\"vip\":\"198.18.0.100\",\"protocol\":\"tcp\"," \
    "\"port\":80,\"bridges\":[\"br-lb\"]" EXTRA ",\"backends\":[" \
    BACKENDS "]}]}"
#define M_SVC(NAME, VIP, PROTO, PORT, BRIDGES) M_BRIDGE("") \
    ",\"services\":[{\"name\":\"" NAME "\",\"vip\":\"" VIP "\"," \
    "\"protocol\":\"" PROTO "\",\"port\":" PORT ",\"bridges\":" BRIDGES \
    ",\"backends\":[]}]}"
    static const char *const cases[] = {
        "{\"services\":[]}",
        "{\"bridges\":5}",
        M_BRIDGE(",\"color\":1") "}",
        M_BRIDGE(",\"ct_zone\":0") "}",
        M_BRIDGE(",\"ct_zone\":\"7\"") "}",
        M_BRIDGE(",\"datapath_id\":\"0\"") "}",
        M_BRIDGE(",\"backend_port\":\"a b\"") "}",
        "{\"bridges\":[{\"name\":\"0123456789abcdef\","
        "\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":\"front\"}]}",
        "{\"bridges\":[{\"name\":\"b\",\"mac\":\"0a:00:00:00:00\","
        "\"frontend_port\":\"front\"}]}",
        M_SERVICE(",\"x\":1", ""),
        M_SVC("web", "1.2.3.4", "tcp", "0", "[\"br-lb\"]"),
        M_SVC("a b", "1.2.3.4", "tcp", "80", "[\"br-lb\"]"),
        M_SVC("web", "1.2.3", "tcp", "80", "[\"br-lb\"]"),
        M_SVC("web", "1.2.3.4", "sctp", "80", "[\"br-lb\"]"),
        M_SVC("web", "1.2.3.4", "tcp", "80", "[]"),
        M_BRIDGE("") ",\"services\":[{\"name\":\"web\",\"vip\":\"1.2.3.4\","
        "\"protocol\":\"tcp\",\"port\":80,\"bridges\":[\"br-lb\"]}]}",
        M_SERVICE("", BE1 ",{\"name\":\"s2\",\"ip\":\"198.18.1.12\","
                  "\"mac\":\"02:00:00:00:01:12\",\"weight\":0}"),
        M_SERVICE("", "{\"name\":\"s1\",\"ip\":\"198.18.1.11\","
                  "\"mac\":\"02:00:00:00:01:11\",\"state\":\"off\"}"),
        M_SERVICE("", "{\"name\":\"s1\",\"ip\":\"198.18.1.11\","
                  "\"mac\":\"02:00:00:00:01:1x\"}"),
        M_SERVICE("", "{\"name\":\"s1\",\"mac\":\"02:00:00:00:01:11\"}"),
        M_SERVICE("", "{\"name\":\"s1\",\"ip\":\"198.18.1.11\","
                  "\"mac\":\"02:00:00:00:01:11\",\"port\":70000}"),
        M_SERVICE("", "{\"name\":\"s1\",\"ip\":\"198.18.1.11\","
                  "\"mac\":\"02:00:00:00:01:11\",\"nmae\":\"x\"}"),
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = parse(cases[i]);
        char *from_schema = jschema_validate(schemas, "model.schema.json", j);
        struct model *m;
        char *from_model = model_from_json(j, &m);

        if (!from_schema || !from_model || strcmp(from_schema, from_model)) {
            print_error("input:  %s\nschema: %s\nmodel:  %s\n", cases[i],
                        from_schema ? from_schema : "(valid)",
                        from_model ? from_model : "(valid)");
            fail();
        }
        free(from_schema);
        free(from_model);
        json_decref(j);
    }

    /* Too many backends, both ways. */
    {
        json_t *j = parse(M_SERVICE("", ""));
        json_t *backends = json_object_get(
            json_array_get(json_object_get(j, "services"), 0), "backends");
        char *a, *b;
        struct model *m;

        for (int i = 0; i <= 1024; i++) {
            json_array_append_new(backends, json_pack(
                "{s:s,s:s,s:i,s:s}", "name", "s", "ip", "198.18.1.11",
                "port", i + 1, "mac", "02:00:00:00:01:11"));
        }
        a = jschema_validate(schemas, "model.schema.json", j);
        b = model_from_json(j, &m);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, "services[0].backends: at most 1024 backends");
        assert_string_equal(a, b);
        free(a);
        free(b);
        json_decref(j);
    }
}

static void
test_path(void **state)
{
    json_t *j = parse("{\"weight\":0}");
    char *path = (char *) "unset";
    char *error = jschema_validate_path(schemas, "backend-patch.schema.json",
                                        j, &path);

    (void) state;
    assert_string_equal(error, "weight: must be an integer from 1 to 10000");
    assert_string_equal(path, "weight");
    free(error);
    free(path);
    json_decref(j);

    /* A key with ": " in it still gives the right path. */
    j = parse("{\"a: b\":1}");
    error = jschema_validate_path(schemas, "backend-patch.schema.json", j,
                                  &path);
    assert_string_equal(error, "a: b: unknown key");
    assert_string_equal(path, "a: b");
    free(error);
    free(path);
    json_decref(j);

    j = parse("[]");
    error = jschema_validate_path(schemas, "backend-patch.schema.json", j,
                                  &path);
    assert_string_equal(path, "(top level)");
    free(error);
    free(path);

    error = jschema_validate(schemas, "nonesuch.schema.json", j);
    assert_string_equal(error, "(top level): no schema named "
                        "\"nonesuch.schema.json\"");
    free(error);
    json_decref(j);
    assert_true(jschema_has(schemas, "service.schema.json"));
    assert_false(jschema_has(schemas, "service"));

    j = parse("{\"bridges\":[]}");
    path = (char *) "unset";
    assert_null(jschema_validate_path(schemas, "bridge-list.schema.json", j,
                                      &path));
    assert_null(path);
    json_decref(j);
}

/* Corner cases jansson lets through. */
static void
test_strings(void **state)
{
    json_t *j = json_pack("{s:s%,s:s,s:s}", "name", "s\0x", (size_t) 3,
                          "ip", "1.2.3.4", "mac", "02:00:00:00:01:11");
    char *error = jschema_validate(schemas, "backend.schema.json", j);

    (void) state;
    assert_string_equal(error, "name: must be 1 to 63 characters of A-Z a-z "
                        "0-9 . _ -");
    free(error);
    json_decref(j);

    j = json_pack("{s:s,s:s%,s:s}", "name", "s", "ip", "1.2.3.4\0x",
                  (size_t) 9, "mac", "02:00:00:00:01:11");
    error = jschema_validate(schemas, "backend.schema.json", j);
    assert_string_equal(error, "ip: \"1.2.3.4\\u0000x\" is not an IPv4 or "
                        "IPv6 address");
    free(error);
    json_decref(j);

    /* Cut short on a character boundary: 2-byte characters, 64 bytes. */
    {
        char ip[81], expected[128];

        for (int i = 0; i < 40; i++) {
            memcpy(ip + 2 * i, "\xc3\xa9", 2);
        }
        ip[80] = '\0';
        j = json_pack("{s:s,s:s,s:s}", "name", "s", "ip", ip,
                      "mac", "02:00:00:00:01:11");
        error = jschema_validate(schemas, "backend.schema.json", j);
        snprintf(expected, sizeof expected, "ip: \"%.64s...\" is not an "
                 "IPv4 or IPv6 address", ip);
        assert_string_equal(error, expected);
        free(error);
        json_decref(j);
    }

    /* Control characters are escaped in messages. */
    expect_error_in(schemas, "bridge.schema.json",
                    "{\"name\":\"b\",\"mac\":\"0a:00:00:00:00:01\","
                    "\"frontend_port\":\"f\",\"gateways\":[\"a\\n\"]}",
                    "gateways[0]: \"a\\n\" is not an IPv4 or IPv6 address");
}

/* A long array with its only duplicate at the end, quickly. */
static void
test_unique_large(void **state)
{
    json_t *j = parse(BRIDGE);
    json_t *gws = json_array();
    char *error;

    (void) state;
    for (int i = 0; i < 100000; i++) {
        char ip[32];

        snprintf(ip, sizeof ip, "10.%d.%d.%d", i >> 16, (i >> 8) & 255,
                 i & 255);
        json_array_append_new(gws, json_string(ip));
    }
    json_array_append_new(gws, json_string("10.0.0.7"));
    json_array_append_new(gws, json_string("10.0.0.5"));
    json_object_set_new(j, "gateways", gws);
    error = jschema_validate(schemas, "bridge.schema.json", j);
    assert_string_equal(error, "gateways[100000]: duplicate of gateways[7]");
    free(error);
    json_decref(j);
}

/* Keywords the shipped schemas do not all use, on schemas of our own. */

struct tmpdir {
    char path[64];
};

static void
tmpdir_create(struct tmpdir *t)
{
    strcpy(t->path, "/tmp/test_jschema-XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void
tmpdir_write(const struct tmpdir *t, const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", t->path, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
tmpdir_destroy(struct tmpdir *t)
{
    DIR *d = opendir(t->path);
    struct dirent *de;

    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", t->path, de->d_name);
            unlink(path);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(t->path);
}

static void
test_keywords(void **state)
{
    struct tmpdir t;
    struct jschema *set;
    char *error;

    (void) state;
    tmpdir_create(&t);
    tmpdir_write(&t, "k.schema.json",
        "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"},"
        " \"maxProperties\":3,"
        " \"properties\":{"
        "  \"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
        "  \"lo\":{\"type\":\"string\",\"minLength\":2},"
        "  \"hi\":{\"type\":\"string\",\"maxLength\":1},"
        "  \"p\":{\"type\":\"string\",\"pattern\":\"^a+$\"},"
        "  \"c\":{\"const\":{\"a\":[1]}},"
        "  \"n\":{\"type\":\"number\",\"maximum\":1.5},"
        "  \"i\":{\"type\":\"integer\",\"maximum\":-1},"
        "  \"t\":{\"type\":[\"boolean\",\"array\",\"null\"]},"
        "  \"one\":{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]},"
        "  \"any\":{\"anyOf\":[{\"const\":\"x\"},{\"type\":\"integer\"}]},"
        "  \"deep\":{\"anyOf\":[{\"type\":\"string\"},"
        "                       {\"type\":\"object\",\"properties\":"
        "                        {\"q\":{\"type\":\"string\"}}}]},"
        "  \"all\":{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":5}]},"
        "  \"no\":false,"
        "  \"u\":{\"type\":\"array\",\"uniqueItems\":true,\"minItems\":1,"
        "        \"maxItems\":3},"
        "  \"few\":{\"type\":\"array\",\"minItems\":2},"
        "  \"many\":{\"type\":\"array\",\"maxItems\":1},"
        "  \"obj\":{\"type\":\"object\",\"minProperties\":1},"
        "  \"six\":{\"type\":\"string\",\"format\":\"ipv6\"},"
        "  \"local\":{\"$ref\":\"#/$defs/small\"},"
        "  \"dot\":{\"$ref\":\"./other.schema.json#/$defs/word\"},"
        "  \"esc\":{\"$ref\":\"#/$defs/a~1b~0c\"},"
        "  \"over\":{\"$ref\":\"other.schema.json#/$defs/word\","
        "           \"x-error\":\"must be a word\"},"
        "  \"loop\":{\"$ref\":\"#/$defs/loop\"}},"
        " \"$defs\":{\"small\":{\"type\":\"integer\",\"maximum\":9},"
        "  \"a/b~c\":{\"enum\":[1,\"x\",null]},"
        "  \"loop\":{\"$ref\":\"#/$defs/loop\"}}}");
    tmpdir_write(&t, "other.schema.json",
        "{\"$defs\":{\"word\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\","
        " \"x-vendor\":{\"ignored\":true}}}}");
    tmpdir_write(&t, "not-a-schema.json", "{\"type\":\"nonsense\"}");
    /* The set needs its files no longer once loaded. */
    error = jschema_load_dir(t.path, &set);
    tmpdir_destroy(&t);
    assert_null(error);
    assert_false(jschema_has(set, "not-a-schema.json"));

    static const struct { const char *text, *expected; } cases[] = {
        { "{\"s\":\"a\"}", "s: must be 2 to 3 characters" },
        { "{\"s\":\"\\u00e9\\u00e9\\u00e9\"}", NULL },
        { "{\"s\":\"abcd\"}", "s: must be 2 to 3 characters" },
        { "{\"lo\":\"a\"}", "lo: must be at least 2 characters" },
        { "{\"hi\":\"ab\"}", "hi: must be at most 1 character" },
        { "{\"p\":\"ab\"}", "p: does not match pattern ^a+$" },
        { "{\"c\":{\"a\":[1]}}", NULL },
        { "{\"c\":{\"a\":[2]}}", "c: must be {\"a\":[1]}" },
        { "{\"n\":1.5}", NULL },
        { "{\"n\":2}", "n: must be a number of at most 1.5" },
        { "{\"n\":\"2\"}", "n: must be a number of at most 1.5" },
        { "{\"i\":0}", "i: must be an integer of at most -1" },
        { "{\"t\":[]}", NULL },
        { "{\"t\":1}", "t: must be true or false, an array or null" },
        { "{\"one\":-1}", NULL },
        { "{\"one\":0.5}", NULL },
        { "{\"one\":1}", "one: matches more than one alternative (0 and 1 "
          "of oneOf)" },
        { "{\"one\":-0.5}", "one: must be an integer, or must be a number "
          "of at least 0" },
        { "{\"any\":\"x\"}", NULL },
        { "{\"any\":\"y\"}", "any: must be \"x\", or must be an integer" },
        { "{\"deep\":{\"q\":1}}", "deep.q: must be a string" },
        { "{\"all\":4}", "all: must be a number of at least 5" },
        { "{\"all\":\"4\"}", "all: must be an integer" },
        { "{\"no\":1}", "no: is not allowed" },
        { "{\"extra\":1}", NULL },
        { "{\"extra\":\"1\"}", "extra: must be an integer" },
        { "{\"a\":1,\"b\":2,\"c2\":3,\"d\":4}",
          "(top level): must have at most 3 keys" },
        { "{\"u\":[]}", "u: must have 1 to 3 items" },
        { "{\"u\":[1,2,3,4]}", "u: must have 1 to 3 items" },
        { "{\"u\":[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]}",
          "u[1]: duplicate of u[0]" },
        { "{\"u\":[1,\"1\",[1]]}", NULL },
        { "{\"few\":[1]}", "few: must have at least 2 items" },
        { "{\"many\":[1,2]}", "many: must have at most 1 item" },
        { "{\"obj\":{}}", "obj: must have at least 1 key" },
        { "{\"obj\":[]}", "obj: must be an object" },
        { "{\"six\":\"::ffff:1.2.3.4\"}", NULL },
        { "{\"six\":\"1.2.3.4\"}", "six: \"1.2.3.4\" is not an IPv6 address" },
        { "{\"local\":10}", "local: must be an integer of at most 9" },
        { "{\"dot\":\"Word\"}", "dot: does not match pattern ^[a-z]+$" },
        { "{\"over\":\"Word\"}", "over: must be a word" },
        { "{\"esc\":null}", NULL },
        { "{\"esc\":2}", "esc: must be 1, \"x\" or null" },
        { "{\"loop\":1}", "loop: is nested too deeply for the schema" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (cases[i].expected) {
            expect_error_in(set, "k.schema.json", cases[i].text,
                            cases[i].expected);
        } else {
            expect_valid_in(set, "k.schema.json", cases[i].text);
        }
    }
    jschema_destroy(set);
}

/* Schemas that would not check what they say are refused at load. */
static void
test_load_errors(void **state)
{
    static const struct {
        /* Files a.schema.json and b.schema.json; NULL: no such file. */
        const char *a, *b, *expected;
    } cases[] = {
        { "{\"type\":\"object\",\"properties\":{\"port\":{\"minimun\":1}}}",
          NULL, "a.schema.json#/properties/port: unknown keyword "
          "\"minimun\"" },
        { "{\"exclusiveMinimum\":1}", NULL,
          "a.schema.json: unknown keyword \"exclusiveMinimum\"" },
        { "{\"type\":\"int\"}", NULL, "a.schema.json: unknown type \"int\"" },
        { "{\"type\":[\"string\",5]}", NULL,
          "a.schema.json: type[1] is not a type name" },
        { "{\"items\":{\"$ref\":\"c.schema.json\"}}", NULL,
          "a.schema.json#/items: $ref \"c.schema.json\": no schema file "
          "\"c.schema.json\" in the directory" },
        { "{\"items\":{\"$ref\":\"b.schema.json#/$defs/y\"}}",
          "{\"$defs\":{\"x\":{}}}", "a.schema.json#/items: $ref "
          "\"b.schema.json#/$defs/y\" does not resolve" },
        { "{\"$ref\":\"#/title\",\"title\":\"t\"}", NULL,
          "a.schema.json: $ref \"#/title\" is not a schema" },
        { "{\"properties\":{\"a\":{\"$ref\":\"#/properties\"}}}", NULL,
          "a.schema.json#/properties/a: $ref \"#/properties\" is not a "
          "schema" },
        { "{\"items\":{\"$ref\":\"b.schema.json#/examples/0\"}}",
          "{\"examples\":[{\"type\":\"string\"}]}", "a.schema.json#/items: "
          "$ref \"b.schema.json#/examples/0\" is not a schema" },
        { "{\"$ref\":\"#x\"}", NULL, "a.schema.json: $ref \"#x\": only JSON "
          "pointer fragments are supported" },
        { "{}", "{\"$defs\":{\"p\":{\"pattern\":\"(\"}}}", NULL },
        { "{\"format\":\"email\"}", NULL,
          "a.schema.json: unsupported format \"email\"" },
        { "{\"minLength\":-1}", NULL,
          "a.schema.json: minLength must be a non-negative integer" },
        { "{\"enum\":[]}", NULL, "a.schema.json: enum must be a non-empty "
          "array" },
        { "{\"anyOf\":[{},5]}", NULL, "a.schema.json#/anyOf/1: a schema must "
          "be an object or true or false" },
        { "{\"required\":[\"nmae\"],\"properties\":{\"name\":{}},"
          "\"additionalProperties\":false}", NULL, "a.schema.json: required "
          "\"nmae\" is not among properties" },
        { "{\"x-error\":5}", NULL, "a.schema.json: x-error must be a string" },
        { "{\"a\":1,\"a\":2}", NULL, "a.schema.json:1:10: duplicate object "
          "key near '\"a\"'" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct tmpdir t;
        struct jschema *set = (struct jschema *) &t;
        char *expected = NULL;
        char *error;

        tmpdir_create(&t);
        tmpdir_write(&t, "a.schema.json", cases[i].a);
        if (cases[i].b) {
            tmpdir_write(&t, "b.schema.json", cases[i].b);
        }
        error = jschema_load_dir(t.path, &set);
        tmpdir_destroy(&t);
        assert_null(set);
        if (cases[i].expected) {
            assert_true(asprintf(&expected, "%s/%s", t.path,
                                 cases[i].expected) > 0);
        } else {
            /* The regex library words its own complaint. */
            assert_true(asprintf(&expected, "%s/b.schema.json#/$defs/p: "
                                 "pattern \"(\" is not a POSIX extended "
                                 "regular expression: ", t.path) > 0);
            assert_non_null(error);
            error[strlen(expected) < strlen(error) ? strlen(expected) : 0]
                = '\0';
        }
        if (!error || strcmp(error, expected)) {
            print_error("case %zu\nexpected: %s\ngot:      %s\n", i, expected,
                        error ? error : "(loaded)");
            fail();
        }
        free(expected);
        free(error);
    }

    {
        struct tmpdir t;
        struct jschema *set;
        char *expected;
        char *error;

        tmpdir_create(&t);
        error = jschema_load_dir(t.path, &set);
        tmpdir_destroy(&t);
        assert_true(asprintf(&expected, "%s: no *.schema.json files",
                             t.path) > 0);
        assert_string_equal(error, expected);
        free(error);
        free(expected);
        error = jschema_load_dir("/nonexistent", &set);
        assert_string_equal(error, "/nonexistent: No such file or directory");
        free(error);
    }
}

/* The examples that schemas carry (and docs/api.md shows). */
static void
test_schema_examples(void **state)
{
    char *pattern = src_path("schemas/*.schema.json");
    size_t n_examples = 0;
    glob_t g;

    (void) state;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *name = strrchr(g.gl_pathv[i], '/') + 1;
        json_t *schema = json_load_file(g.gl_pathv[i], 0, NULL);
        json_t *example;
        size_t k;

        assert_non_null(schema);
        assert_true(jschema_has(schemas, name));
        json_array_foreach (json_object_get(schema, "examples"), k, example) {
            char *error = jschema_validate(schemas, name, example);
            if (error) {
                print_error("%s: examples[%zu]: %s\n", name, k, error);
                fail();
            }
            n_examples++;
        }
        json_decref(schema);
    }
    assert_true(n_examples >= 10);
    globfree(&g);
    free(pattern);
}

/* Validates the ```json blocks of 'doc': each against the schema named by
 * the "<!-- example: NAME -->" line before it, or 'dflt' if there is no
 * such line (NULL: the marker is required).  Returns how many. */
static size_t
check_doc_examples(const char *doc, const char *dflt)
{
    char *path = src_path(doc);
    char *text = read_text(path);
    char pending[128] = "";
    size_t line_no = 0, n = 0;
    struct { char *s; size_t len; } block = { NULL, 0 };
    bool in_block = false;
    size_t block_line = 0;
    char *next;

    for (char *line = text; line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        line_no++;
        if (in_block) {
            if (!strcmp(line, "```")) {
                const char *schema = pending[0] ? pending : dflt;
                json_error_t jerr;
                json_t *j;
                char *error;

                in_block = false;
                if (!schema) {
                    print_error("%s:%zu: json block without a "
                                "<!-- example: NAME --> line\n", doc,
                                block_line);
                    fail();
                }
                j = json_loads(block.s ? block.s : "", 0, &jerr);
                if (!j) {
                    print_error("%s:%zu: %s\n", doc, block_line, jerr.text);
                    fail();
                }
                error = jschema_validate(schemas, schema, j);
                if (error) {
                    print_error("%s:%zu: %s: %s\n", doc, block_line, schema,
                                error);
                    fail();
                }
                json_decref(j);
                free(block.s);
                block.s = NULL;
                block.len = 0;
                pending[0] = '\0';
                n++;
            } else {
                size_t len = strlen(line);
                block.s = realloc(block.s, block.len + len + 2);
                memcpy(block.s + block.len, line, len);
                block.len += len;
                block.s[block.len++] = '\n';
                block.s[block.len] = '\0';
            }
        } else if (!strcmp(line, "```json")) {
            in_block = true;
            block_line = line_no;
        } else if (line[0]
                   && sscanf(line, "<!-- example: %127s -->", pending) != 1) {
            pending[0] = '\0';
        }
    }
    assert_false(in_block);
    free(text);
    free(path);
    return n;
}

static void
test_doc_examples(void **state)
{
    (void) state;
    assert_true(check_doc_examples("docs/api.md", NULL) >= 20);
    assert_true(check_doc_examples("docs/config.md",
                                   "model.schema.json") >= 1);
}

static void
test_golden_configs(void **state)
{
    char *pattern = src_path("tests/golden/*.json");
    glob_t g;

    (void) state;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 1);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        json_error_t jerr;
        json_t *j = json_load_file(g.gl_pathv[i], 0, &jerr);
        char *error;

        assert_non_null(j);
        error = jschema_validate(schemas, "model.schema.json", j);
        if (error) {
            print_error("%s: %s\n", g.gl_pathv[i], error);
            fail();
        }
        json_decref(j);
    }
    globfree(&g);
    free(pattern);
}

/* What mslbd writes (its state file, GET bodies) passes its own schemas:
 * models back through flows/model.c's serializers. */
static void
check_round_trip(const char *what, const struct model *m)
{
    json_t *j = model_to_json(m);
    char *error = jschema_validate(schemas, "model.schema.json", j);

    json_decref(j);
    for (size_t k = 0; !error && k < m->n_services; k++) {
        const struct model_service *svc = &m->services[k];

        j = model_service_to_json(svc);
        error = jschema_validate(schemas, "service.schema.json", j);
        json_decref(j);
        for (size_t b = 0; !error && b < svc->n_backends; b++) {
            j = model_backend_to_json(&svc->backends[b]);
            error = jschema_validate(schemas, "backend.schema.json", j);
            json_decref(j);
        }
    }
    for (size_t k = 0; !error && k < m->n_bridges; k++) {
        j = model_bridge_to_json(&m->bridges[k]);
        error = jschema_validate(schemas, "bridge.schema.json", j);
        json_decref(j);
    }
    if (error) {
        print_error("%s: %s\n", what, error);
        fail();
    }
}

static void
test_model_round_trip(void **state)
{
    char *pattern = src_path("tests/golden/*.json");
    json_t *j = parse("{\"bridges\":[{\"name\":\"br-d\",\"datapath_id\":"
                      "\"d1\",\"mac\":\"0a:00:00:00:00:01\",\"frontend_port\":"
                      "\"f\",\"ct_zone\":9,\"gateways\":[\"10.0.0.1\"]}]}");
    struct model *m;
    char *error;
    glob_t g;

    (void) state;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        error = model_from_file(g.gl_pathv[i], &m);
        assert_null(error);
        check_round_trip(g.gl_pathv[i], m);
        model_destroy(m);
    }
    globfree(&g);
    free(pattern);

    error = model_from_json(j, &m);
    assert_null(error);
    check_round_trip("a bridge with a datapath_id", m);
    model_destroy(m);
    json_decref(j);
}

static int
setup(void **state)
{
    char *dir = src_path("schemas");
    char *error = jschema_load_dir(dir, &schemas);

    (void) state;
    free(dir);
    if (error) {
        fprintf(stderr, "%s\n", error);
        free(error);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    jschema_destroy(schemas);
    return 0;
}

int
main(int argc, char *argv[])
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_model_agreement),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_unique_large),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_schema_examples),
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_golden_configs),
        cmocka_unit_test(test_model_round_trip),
    };

    src_dir = argc > 1 ? argv[1] : ".";
    return cmocka_run_group_tests(tests, setup, teardown);
}
