/* mslbctl: the operator's command-line client for mslbd's REST API.
 *
 * Each command is one or two requests; the answer is shown as a table, a
 * one-line summary of a write, or (--json) the server's JSON.  The exit
 * code says what kind of failure happened so that scripts can branch on
 * it (docs/cli.md).
 *
 * mslbctl checks only the form of its arguments (numbers are numbers,
 * required options are there, files are JSON): values are the server's to
 * judge, so that there is one set of rules and one wording of each error,
 * with the path of the offending field. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mslb/xalloc.h"
#include "mslbctl.h"

#define CTL_DEFAULT_URL "http://127.0.0.1:8080"
#define CTL_DEFAULT_TIMEOUT_MS 30000
/* Time the server needs beyond ?wait= to answer, for the default limit. */
#define CTL_WAIT_SLACK_MS 10000

static const struct option long_options[] = {
    { "file", required_argument, NULL, OPT_FILE },
    { "vip", required_argument, NULL, OPT_VIP },
    { "protocol", required_argument, NULL, OPT_PROTOCOL },
    { "port", required_argument, NULL, OPT_PORT },
    { "mode", required_argument, NULL, OPT_MODE },
    { "bridge", required_argument, NULL, OPT_BRIDGE },
    { "backend", required_argument, NULL, OPT_BACKEND },
    { "name", required_argument, NULL, OPT_NAME },
    { "ip", required_argument, NULL, OPT_IP },
    { "mac", required_argument, NULL, OPT_MAC },
    { "weight", required_argument, NULL, OPT_WEIGHT },
    { "state", required_argument, NULL, OPT_STATE },
    { "set", required_argument, NULL, OPT_SET },
    { "url", required_argument, NULL, OPT_URL },
    { "token", required_argument, NULL, OPT_TOKEN },
    { "json", no_argument, NULL, OPT_JSON },
    { "wait", required_argument, NULL, OPT_WAIT },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

/* The command being run, for the synopsis in usage errors. */
static const struct ctl_command *ctl_command;

static void
usage(FILE *stream)
{
    fputs(
"usage: mslbctl [OPTIONS] COMMAND [ARGS]\n"
"The command-line client of mslbd's REST API (docs/cli.md).\n"
"\n"
"Commands:\n"
"  list                              services: NAME VIP PROTO PORT MODE BACKENDS\n"
"  show NAME                         one service and its backends\n"
"  create --file FILE                create a service from JSON ('-': stdin)\n"
"  create NAME --vip IP --protocol tcp|udp|any [--port N] --bridge BR\n"
"         [--bridge BR]...\n"
"         [--mode MODE] [--backend name=N,ip=IP[,mac=MAC][,port=P]\n"
"         [,weight=W][,state=S][,host=IP][,host_bridge=BR]]...\n"
"         [--set FIELD=VALUE]...   any field of the service (docs/api.md);\n"
"                                  VALUE as JSON when it is JSON\n"
"  replace --file FILE               replace (or create) the service named\n"
"                                    in FILE\n"
"  delete NAME                       delete a service\n"
"  backend add SVC --name N --ip IP [--mac MAC] [--port P] [--weight W]\n"
"              [--state up|drain|down] [--set FIELD=VALUE]...\n"
"  backend remove SVC NAME           remove a backend\n"
"  backend drain SVC NAME            keep its sessions, send it no new ones\n"
"  backend up SVC NAME               send it new sessions again\n"
"  backend down SVC NAME             send it nothing\n"
"  backend weight SVC NAME W         set its share of new sessions\n"
"  bridge show NAME                  one bridge as mslbd sees it\n"
"  bridge put --file FILE            create or replace the bridge in FILE\n"
"  bridge delete NAME                delete a bridge (no service on it)\n"
"  status                            daemon health and bridges\n"
"  stats [SVC]                       packets, bytes, replies, sessions\n"
"\n"
"Options (before or after the command):\n"
"  --url URL          mslbd's API (default: $MSLB_URL, else\n"
"                     " CTL_DEFAULT_URL ")\n"
"  --token TOKEN      bearer token (default: $MSLB_TOKEN)\n"
"  --json             print the server's JSON, indented\n"
"  --wait SECONDS     how long a write waits for the switches (server default 5)\n"
"  --timeout SECONDS  give up on the server after this long (default 30,\n"
"                     or --wait plus 10 if longer)\n"
"  -h, --help         print this help\n"
"      --version      print the version and exit\n"
"\n"
"Exit codes:\n"
"  0  success\n"
"  1  the server refused the request (4xx other than 401 and 404)\n"
"  2  usage error: bad arguments or unreadable file; nothing was sent\n"
"  3  the server cannot be reached, timed out, or failed (5xx)\n"
"  4  not found (404)\n"
"  5  unauthorized (401): missing or wrong token\n",
        stream);
}

int
ctl_usage_error(const char *fmt, ...)
{
    va_list args;

    fputs("mslbctl: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    if (ctl_command) {
        fprintf(stderr, "usage: mslbctl %s%s%s\n", ctl_command->name,
                *ctl_command->synopsis ? " " : "", ctl_command->synopsis);
    } else {
        fputs("Try 'mslbctl --help'.\n", stderr);
    }
    return CTL_EXIT_USAGE;
}

static bool
is_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

static bool
has_control_chars(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return true;
        }
    }
    return false;
}

static const struct ctl_command commands[] = {
    { "list", "", 0, 0, 0, ctl_cmd_list },
    { "show", "NAME", 1, 1, 0, ctl_cmd_show },
    { "create",
      "--file FILE | NAME --vip IP --protocol tcp|udp|any [--port N] "
      "--bridge BR "
      "[--bridge BR]... [--mode MODE] [--backend SPEC]... "
      "[--set FIELD=VALUE]...",
      0, 1,
      OPT_FILE | OPT_VIP | OPT_PROTOCOL | OPT_PORT | OPT_MODE | OPT_BRIDGE
      | OPT_BACKEND | OPT_SET, ctl_cmd_create },
    { "replace", "--file FILE", 0, 0, OPT_FILE, ctl_cmd_replace },
    { "delete", "NAME", 1, 1, 0, ctl_cmd_delete },
    { "backend add",
      "SVC --name N --ip IP [--mac MAC] [--port P] [--weight W] [--state S] "
      "[--set FIELD=VALUE]...",
      1, 1, OPT_NAME | OPT_IP | OPT_MAC | OPT_PORT | OPT_WEIGHT | OPT_STATE
      | OPT_SET, ctl_cmd_backend_add },
    { "backend remove", "SVC NAME", 2, 2, 0, ctl_cmd_backend_remove },
    { "backend drain", "SVC NAME", 2, 2, 0, ctl_cmd_backend_state },
    { "backend up", "SVC NAME", 2, 2, 0, ctl_cmd_backend_state },
    { "backend down", "SVC NAME", 2, 2, 0, ctl_cmd_backend_state },
    { "backend weight", "SVC NAME W", 3, 3, 0, ctl_cmd_backend_weight },
    { "bridge show", "NAME", 1, 1, 0, ctl_cmd_bridge_show },
    { "bridge put", "--file FILE", 0, 0, OPT_FILE, ctl_cmd_bridge_put },
    { "bridge delete", "NAME", 1, 1, 0, ctl_cmd_bridge_delete },
    { "status", "", 0, 0, 0, ctl_cmd_status },
    { "stats", "[SVC]", 0, 1, 0, ctl_cmd_stats },
};

static const char *
option_name(unsigned int bit)
{
    for (const struct option *o = long_options; o->name; o++) {
        if ((unsigned int) o->val == bit) {
            return o->name;
        }
    }
    return "?";
}

static void
push(const char ***list, size_t *n, const char *s)
{
    *list = realloc(*list, (*n + 1) * sizeof **list);
    if (!*list) {
        fputs("mslbctl: out of memory\n", stderr);
        abort();
    }
    (*list)[(*n)++] = s;
}

/* Parses the command line into 'ctl'.  Returns -1 to go on, or an exit
 * code (help was printed, or a usage error was reported). */
static int
parse_options(struct ctl *ctl, int argc, char *argv[])
{
    const char *url = getenv("MSLB_URL"), *token = getenv("MSLB_TOKEN");
    const char *timeout = NULL;
    bool help = false;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (c) {
        case OPT_FILE: ctl->file = optarg; break;
        case OPT_VIP: ctl->vip = optarg; break;
        case OPT_PROTOCOL: ctl->protocol = optarg; break;
        case OPT_PORT: ctl->port = optarg; break;
        case OPT_MODE: ctl->mode = optarg; break;
        case OPT_BRIDGE:
            push(&ctl->bridges, &ctl->n_bridges, optarg);
            break;
        case OPT_BACKEND:
            push(&ctl->backends, &ctl->n_backends, optarg);
            break;
        case OPT_SET:
            push(&ctl->sets, &ctl->n_sets, optarg);
            break;
        case OPT_NAME: ctl->name = optarg; break;
        case OPT_IP: ctl->ip = optarg; break;
        case OPT_MAC: ctl->mac = optarg; break;
        case OPT_WEIGHT: ctl->weight = optarg; break;
        case OPT_STATE: ctl->state = optarg; break;
        case OPT_URL: url = optarg; break;
        case OPT_TOKEN: token = optarg; break;
        case OPT_JSON: ctl->json = true; break;
        case OPT_WAIT: ctl->wait = optarg; break;
        case OPT_TIMEOUT: timeout = optarg; break;
        case 'h': c = OPT_HELP; /* Fall through. */
        case OPT_HELP: help = true; break;
        case OPT_VERSION:
            printf("mslbctl (mslb) %s\n", MSLB_VERSION);
            return CTL_EXIT_OK;
        case ':':
            return ctl_usage_error("option %s needs a value",
                                   argv[optind - 1]);
        case '?':
        default:
            if (optopt) {
                return ctl_usage_error("unknown option -%c", optopt);
            }
            return ctl_usage_error("unknown option %s", argv[optind - 1]);
        }
        ctl->seen |= c;
    }
    if (help) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    ctl->args = argv + optind;
    ctl->n_args = argc - optind;

    if (!url || !*url) {
        url = CTL_DEFAULT_URL;
    }
    if ((strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
        || has_control_chars(url) || strpbrk(url, " ?#")) {
        return ctl_usage_error("--url %s: expected "
                               "http://HOST[:PORT][/PREFIX] or https://...",
                               url);
    }
    {
        /* "http://h:1/" + "/v1/..." would make "//v1". */
        char *base = mslb_xasprintf("%s", url);
        size_t len = strlen(base);
        while (len && base[len - 1] == '/') {
            base[--len] = '\0';
        }
        ctl->http.base_url = base;
    }

    if (token && *token) {
        /* It goes into a header line as is. */
        if (has_control_chars(token)) {
            return ctl_usage_error("the token contains control characters");
        }
        ctl->http.token = token;
    }

    if (ctl->wait && !is_digits(ctl->wait)) {
        return ctl_usage_error("--wait %s: expected whole seconds", ctl->wait);
    }
    ctl->http.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
    if (ctl->wait) {
        double wait_ms = strtod(ctl->wait, NULL) * 1000 + CTL_WAIT_SLACK_MS;
        if (wait_ms > ctl->http.timeout_ms) {
            ctl->http.timeout_ms = wait_ms > 1e9 ? 1e9 : wait_ms;
        }
    }
    if (timeout) {
        char *end;
        double s;

        errno = 0;
        s = strtod(timeout, &end);
        if (!*timeout || *end || errno || !isfinite(s) || s <= 0
            || s > 1e6) {
            return ctl_usage_error("--timeout %s: expected seconds, more "
                                   "than 0", timeout);
        }
        ctl->http.timeout_ms = ceil(s * 1000);
    }
    return -1;
}

/* Finds the command named by the first one or two positional arguments
 * and checks its arguments and options. */
static int
find_command(struct ctl *ctl, const struct ctl_command **cmdp,
             char ***args, size_t *n_args)
{
    const struct ctl_command *cmd = NULL;
    size_t words = 1;
    char *name;

    if (!ctl->n_args) {
        return ctl_usage_error("no command given");
    }
    if (!strcmp(ctl->args[0], "help")) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (!strcmp(ctl->args[0], "backend")) {
        if (ctl->n_args < 2) {
            return ctl_usage_error("backend needs a subcommand: add, remove, "
                                   "drain, up, down or weight");
        }
        words = 2;
        name = mslb_xasprintf("backend %s", ctl->args[1]);
    } else if (!strcmp(ctl->args[0], "bridge")) {
        if (ctl->n_args < 2) {
            return ctl_usage_error("bridge needs a subcommand: show, put or "
                                   "delete");
        }
        words = 2;
        name = mslb_xasprintf("bridge %s", ctl->args[1]);
    } else {
        name = mslb_xasprintf("%s", ctl->args[0]);
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (!strcmp(commands[i].name, name)) {
            cmd = &commands[i];
        }
    }
    if (!cmd) {
        int code = ctl_usage_error("unknown command \"%s\"", name);
        free(name);
        return code;
    }
    free(name);

    ctl_command = cmd;
    ctl->command = cmd;
    *cmdp = cmd;
    *args = ctl->args + words;
    *n_args = ctl->n_args - words;
    if (*n_args < cmd->min_args || *n_args > cmd->max_args) {
        return ctl_usage_error("%s: wrong number of arguments", cmd->name);
    }
    for (unsigned int bit = 1; bit < OPT_URL; bit <<= 1) {
        if (ctl->seen & bit & ~cmd->options) {
            return ctl_usage_error("%s does not take --%s", cmd->name,
                                   option_name(bit));
        }
    }
    return -1;
}

int
main(int argc, char *argv[])
{
    const struct ctl_command *cmd = NULL;
    struct ctl ctl = { .json = false };
    size_t n_args = 0;
    char **args = NULL;
    int code;

    code = parse_options(&ctl, argc, argv);
    if (code < 0) {
        code = find_command(&ctl, &cmd, &args, &n_args);
    }
    if (code < 0) {
        if (cli_http_global_init()) {
            fputs("mslbctl: cannot initialize libcurl\n", stderr);
            code = CTL_EXIT_UNREACHABLE;
        } else {
            code = cmd->run(&ctl, args, n_args);
            cli_http_global_uninit();
        }
    }
    free((char *) ctl.http.base_url);
    free(ctl.bridges);
    free(ctl.backends);
    return code;
}
