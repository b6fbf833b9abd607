/* mslb-compile: prints the flows and groups mslb would install on a bridge,
 * in canonical form.  For golden tests, benchmarks and operators.
 *
 *   mslb-compile CONFIG BRIDGE [FRONTEND_PORT_NO [BACKEND_PORT_NO]]
 *   mslb-compile --of15 ...  (as for a switch that speaks OpenFlow 1.5)
 *   mslb-compile --time ...  (also prints the compile time to stderr)
 *   mslb-compile --check CONFIG */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mslb/compile.h"
#include "mslb/flowset.h"
#include "mslb/model.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
    /* Tunnel ports are numbered 100 (vxlan), 101 (gre), 102 (geneve) and
     * the LOCAL port's MAC is 0a:00:00:00:00:fe, for golden tests. */
    struct compile_ports ports = {
        .frontend = 1, .backend = 2, .of15 = false,
        .tunnel = { 100, 101, 102, 103 },
        .local_mac = { { 0x0a, 0, 0, 0, 0, 0xfe } },
    };
    const struct model_bridge *br;
    struct flowset *fs;
    struct model *m;
    bool timing = false;
    double t0, t1;
    char *error;

    for (;;) {
        if (argc > 1 && !strcmp(argv[1], "--of15")) {
            ports.of15 = true;
        } else if (argc > 1 && !strcmp(argv[1], "--time")) {
            timing = true;
        } else {
            break;
        }
        argv++;
        argc--;
    }
    if (argc == 3 && !strcmp(argv[1], "--check")) {
        error = model_from_file(argv[2], &m);
        if (error) {
            fprintf(stderr, "%s: %s\n", argv[2], error);
            free(error);
            return 1;
        }
        model_destroy(m);
        printf("%s: OK\n", argv[2]);
        return 0;
    }
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s [--of15] [--time] CONFIG BRIDGE "
                "[FRONT [BACK]]\n       %s --check CONFIG\n", argv[0],
                argv[0]);
        return 2;
    }
    if (argc > 3) {
        ports.frontend = ports.backend = atoi(argv[3]);
    }
    if (argc > 4) {
        ports.backend = atoi(argv[4]);
    }
    error = model_from_file(argv[1], &m);
    if (error) {
        fprintf(stderr, "%s: %s\n", argv[1], error);
        free(error);
        return 1;
    }
    br = model_find_bridge(m, argv[2]);
    if (!br) {
        fprintf(stderr, "%s: no bridge named \"%s\"\n", argv[1], argv[2]);
        return 1;
    }
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (!br->tunnel_ports[t]) {
            ports.tunnel[t] = 0;
        }
    }
    fs = flowset_create();
    t0 = now_s();
    error = compile_bridge(m, br, &ports, fs);
    t1 = now_s();
    if (error) {
        fprintf(stderr, "internal error: %s\n", error);
        return 1;
    }
    if (timing) {
        size_t n = 0;
        for (size_t i = 0; i < m->n_services; i++) {
            n += model_service_on_bridge(&m->services[i], br->name);
        }
        fprintf(stderr, "compiled %zu services: %zu flows, %zu groups in "
                "%.1f ms (%.1f us per service)\n", n, flowset_n_flows(fs),
                flowset_n_groups(fs), (t1 - t0) * 1e3,
                n ? (t1 - t0) * 1e6 / n : 0.0);
    }
    char *s = flowset_to_string(fs);
    fputs(s, stdout);
    free(s);
    flowset_destroy(fs);
    model_destroy(m);
    return 0;
}
