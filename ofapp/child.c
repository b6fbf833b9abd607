/* Stopping a child process at exit: see child.h. */
#include <config.h>
#include "child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(child);

void
child_stop(pid_t pid, const char *what)
{
    int status;

    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            return;             /* ECHILD: libuv reaped it already. */
        }
        xnanosleep(10 * 1000 * 1000);
    }
    VLOG_WARN("%s %d ignored SIGTERM for 3 s: killing it", what, (int) pid);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

void
child_private_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;

    if (!dir) {
        return;
    }
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name), flags;

        if (fd > 2 && fd != dirfd(dir)
            && (flags = fcntl(fd, F_GETFD)) >= 0 && !(flags & FD_CLOEXEC)) {
            fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
        }
    }
    closedir(dir);
}
