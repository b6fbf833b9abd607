/* Allocation that does not fail: on exhaustion there is nothing better
 * for mslb's programs to do than to stop.  For the modules that do not
 * link libopenvswitch (whose util.h has its own x* functions). */
#ifndef MSLB_XALLOC_H
#define MSLB_XALLOC_H 1

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *
mslb_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("out of memory\n", stderr);
        abort();
    }
    return p;
}

static inline void *
mslb_xmalloc(size_t n)
{
    return mslb_xrealloc(NULL, n);
}

static inline void *
mslb_xzalloc(size_t n)
{
    return memset(mslb_xmalloc(n), 0, n ? n : 1);
}

static inline void *
mslb_xmemdup(const void *p, size_t n)
{
    return memcpy(mslb_xmalloc(n ? n : 1), p, n);
}

static inline char *
mslb_xstrdup(const char *s)
{
    return strcpy(mslb_xmalloc(strlen(s) + 1), s);
}

static inline char * __attribute__((format(printf, 1, 2)))
mslb_xasprintf(const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        fputs("out of memory\n", stderr);
        abort();
    }
    va_end(args);
    return s;
}

#endif /* xalloc.h */
