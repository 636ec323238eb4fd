/* Allocation that never returns NULL, cleanup attributes, and ownership
 * helpers shared by every part of crimp.  Allocation failure is not an error
 * path: the x* allocators abort with a message, as crun's do.  */
#ifndef CRIMP_UTILS_H
#define CRIMP_UTILS_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* Zeroed memory aligned to ALIGN (a power of two), for structs with
 * cache-line aligned members; freed with free().  */
void *xaligned_calloc(size_t align, size_t size);
char *xstrdup(const char *s);
/* Returns NULL for a NULL S.  */
char *xstrdup_or_null(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static inline void cleanup_freep(void *p)
{
    free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
static inline void cleanup_filep(FILE **f)
{
    if (*f != NULL)
        fclose(*f);
}

#define cleanup_free  __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_file  __attribute__((cleanup(cleanup_filep)))

/* Moves ownership out of a cleanup variable: returns *P and sets it NULL.  */
static inline void *steal_ptr_impl(void **p)
{
    void *v = *p;
    *p = NULL;
    return v;
}
#define steal_ptr(pp) steal_ptr_impl((void **)(pp))

/* Moves ownership of a file descriptor: returns *FD and sets it to -1.  */
static inline int steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}

static inline bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static inline bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static inline bool str_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* N bytes from the kernel's random source (getrandom, retried until full;
 * after CRIMP_RANDOM_TRIES failures in a row, or one that retrying cannot
 * cure, < 0 with *ERR).  */
#define CRIMP_RANDOM_TRIES 8
int crimp_random_bytes(void *buf, size_t n, crimp_error_t *err);

/* N_CHARS random base64url characters (6 random bits each) and a NUL into
 * OUT: tokens and IDs that must be unguessable or unique.  < 0 as above.  */
int crimp_random_b64url(char *out, size_t n_chars, crimp_error_t *err);

/* Monotonic and wall clocks in nanoseconds.  */
int64_t crimp_now_mono_ns(void);

/* The monotonic deadline SECONDS from now, 0 (none) for SECONDS <= 0 or a
 * timeout too long for an int64 of ns (a CRI timeout is a peer's int64).  */
static inline int64_t crimp_deadline_in_seconds(int64_t seconds)
{
    if (seconds <= 0 || seconds > INT64_MAX / 1000000000LL / 2)
        return 0;
    return crimp_now_mono_ns() + seconds * 1000000000LL;
}
int64_t crimp_now_real_ns(void);

/* A condition variable whose timed waits count on the monotonic clock
 * (wall-clock jumps neither shorten nor stretch them), and the deadline
 * for such a wait MS milliseconds from now.  */
void crimp_cond_init_monotonic(pthread_cond_t *cond);
struct timespec crimp_mono_deadline_ms(int64_t ms);

/* Formats wall-clock NS as 2006-01-02T15:04:05.999999999Z (UTC, always
 * nine digits: the form CRI log lines and Docker use) into BUF (>= 40).  */
void crimp_format_rfc3339_ns(int64_t ns, char *buf, size_t size);

#define CRIMP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Whether malloc is glibc's: under AddressSanitizer it is the sanitizer's,
 * and glibc's arena calls (mallopt, malloc_trim) must be left alone — a
 * trim there sets up glibc arenas that a thread's exit then finds
 * inconsistent ("__malloc_arena_thread_freeres" assertion).  */
#if defined(__SANITIZE_ADDRESS__)
#define CRIMP_GLIBC_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRIMP_GLIBC_MALLOC 0
#endif
#endif
#ifndef CRIMP_GLIBC_MALLOC
#define CRIMP_GLIBC_MALLOC 1
#endif

#endif
