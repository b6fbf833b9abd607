/* Stopping a child process at exit, for the daemons mslbd supervises
 * (dbserver.c's ovsdb-server, speaker.c's bgpd and vtysh). */
#ifndef CHILD_H
#define CHILD_H 1

#include <sys/types.h>

/* Sends 'pid' SIGTERM and reaps it here (the caller is exiting and may
 * never run the loop again to hear of its exit); SIGKILL after 3 s, with
 * a warning naming 'what'.  A child libuv reaped already counts as
 * reaped.  The caller still closes its uv_process_t. */
void child_stop(pid_t pid, const char *what);

/* Marks every descriptor above stderr close-on-exec, so that a child
 * started next inherits none of mslbd's sockets (OVS's unixctl server,
 * among others, opens its sockets without FD_CLOEXEC).  Call right before
 * uv_spawn(): libuv gives the child only the stdio it is told. */
void child_private_fds(void);

#endif /* child.h */
