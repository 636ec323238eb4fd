/* x-allocators and clocks.  */
#include "utils.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "base64.h"

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

void *xaligned_calloc(size_t align, size_t size)
{
    size_t rounded = (size + align - 1) / align * align;
    void *p = aligned_alloc(align, rounded ? rounded : align);
    if (p == NULL)
        oom();
    memset(p, 0, rounded);
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

void crimp_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

struct timespec crimp_mono_deadline_ms(int64_t ms)
{
    int64_t ns = clock_ns(CLOCK_MONOTONIC) + ms * 1000000;
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
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

int crimp_random_bytes(void *buf, size_t n, crimp_error_t *err)
{
    uint8_t *p = buf;
    size_t got = 0;
    /* A short read or EINTR is retried, a source that keeps failing (no
     * getrandom in a seccomp sandbox, say) is an error, not a spin.  */
    for (int failures = 0; got < n;) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        int e = r < 0 ? errno : EIO;
        if (++failures >= CRIMP_RANDOM_TRIES || (e != EINTR && e != EAGAIN))
            return crimp_make_errno_error(err, e, "the kernel's random source (getrandom)");
    }
    return 0;
}

int crimp_random_b64url(char *out, size_t n_chars, crimp_error_t *err)
{
    uint8_t raw[48];
    size_t n_raw = (n_chars * 6 + 7) / 8;
    if (n_raw > sizeof(raw))
        abort(); /* callers ask for short strings */
    if (crimp_random_bytes(raw, n_raw, err) < 0)
        return -1;
    uint32_t bits = 0;
    int have = 0;
    size_t in = 0;
    for (size_t i = 0; i < n_chars; i++) {
        if (have < 6) {
            bits = bits << 8 | raw[in++];
            have += 8;
        }
        out[i] = crimp_base64url_alphabet[(bits >> (have - 6)) & 63];
        have -= 6;
    }
    out[n_chars] = '\0';
    return 0;
}
