/* x-allocators and clocks.  */
#include "utils.h"

#include <time.h>

static void oom(void) __attribute__((noreturn));
static void oom(void)
{
    fputs("crimp: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (d == NULL)
        oom();
    return d;
}

char *xstrdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        oom();
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t crimp_now_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t crimp_now_real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

void crimp_format_rfc3339_ns(int64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / 1000000000LL);
    struct tm tm;
    char base[32];
    gmtime_r(&secs, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%09lldZ", base, (long long)(ns % 1000000000LL));
}
