#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static FILE *log_file;
static enum mslb_log_level log_level = MSLB_LOG_INFO;

int
mslb_log_open(const char *file_name)
{
    if (!file_name) {
        return 0;
    }
    log_file = fopen(file_name, "a");
    if (!log_file) {
        return errno;
    }
    setvbuf(log_file, NULL, _IOLBF, 0);
    return 0;
}

void
mslb_log_set_level(enum mslb_log_level level)
{
    log_level = level;
}

void
mslb_log(enum mslb_log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "ERR", "WARN", "INFO", "DBG" };
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    va_list args;

    if (level > log_level) {
        return;
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    for (int i = 0; i < 2; i++) {
        FILE *f = i ? log_file : stderr;
        if (!f) {
            continue;
        }
        fprintf(f, "%s.%03ldZ|%s|", stamp, (long) tv.tv_usec / 1000,
                names[level]);
        va_start(args, fmt);
        vfprintf(f, fmt, args);
        va_end(args);
        fputc('\n', f);
    }
}
