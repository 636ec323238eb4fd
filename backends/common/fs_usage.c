/* The writable-layer usage cache: a list of directories with their last
 * figure, and one thread that walks the stale ones outside the lock.  */
#include "fs_usage.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"

/* An entry nobody asked about for this many periods is dropped.  */
#define IDLE_PERIODS 3

struct fs_entry {
    char *dir;
    struct crimp_fs_usage usage;
    int64_t asked_ns; /* monotonic: last crimp_fs_usage_get */
    bool watched;     /* crimp_fs_usage_watch: never dropped as idle */
};

struct crimp_fs_usage_cache {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    int64_t period_ns;
    struct fs_entry *entries;
    size_t n, cap;
};

static _Thread_local struct crimp_fs_usage *walk_acc;

static int walk_visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    walk_acc->bytes += (uint64_t)sb->st_blocks * 512;
    walk_acc->inodes++;
    return 0;
}

void crimp_fs_usage_walk(const char *dir, struct crimp_fs_usage *out)
{
    memset(out, 0, sizeof(*out));
    walk_acc = out;
    nftw(dir, walk_visit, 16, FTW_PHYS | FTW_MOUNT);
    walk_acc = NULL;
    out->at_ns = crimp_now_real_ns();
}

/* Index of DIR, or -1.  Called with the lock held.  */
static ssize_t find(struct crimp_fs_usage_cache *c, const char *dir)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].dir, dir) == 0)
            return (ssize_t)i;
    return -1;
}

static void drop(struct crimp_fs_usage_cache *c, size_t i)
{
    free(c->entries[i].dir);
    c->entries[i] = c->entries[--c->n];
}

/* Copies the directories due for a walk, dropping idle ones.  Lock held.  */
static char **due_dirs(struct crimp_fs_usage_cache *c, size_t *n_due)
{
    int64_t mono = crimp_now_mono_ns(), real = crimp_now_real_ns();
    char **due = xcalloc(c->n + 1, sizeof(*due));
    *n_due = 0;
    for (size_t i = 0; i < c->n;) {
        struct fs_entry *e = &c->entries[i];
        if (!e->watched && mono - e->asked_ns > IDLE_PERIODS * c->period_ns) {
            drop(c, i);
            continue;
        }
        if (real - e->usage.at_ns >= c->period_ns)
            due[(*n_due)++] = xstrdup(e->dir);
        i++;
    }
    return due;
}

static void store(struct crimp_fs_usage_cache *c, const char *dir,
                  const struct crimp_fs_usage *u)
{
    ssize_t i = find(c, dir);
    if (i >= 0) /* forgotten meanwhile: keep it forgotten */
        c->entries[i].usage = *u;
}

static void *refresh_loop(void *arg)
{
    struct crimp_fs_usage_cache *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        size_t n = 0;
        char **due = due_dirs(c, &n);
        pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            struct crimp_fs_usage u;
            crimp_fs_usage_walk(due[i], &u);
            pthread_mutex_lock(&c->lock);
            store(c, due[i], &u);
            pthread_mutex_unlock(&c->lock);
            free(due[i]);
        }
        free(due);
        pthread_mutex_lock(&c->lock);
        /* Wake a few times a period: a figure is at most ~1.25 periods old.  */
        struct timespec until = crimp_mono_deadline_ms(c->period_ns / 4 / 1000000);
        if (!c->stopping)
            pthread_cond_timedwait(&c->wake, &c->lock, &until);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

struct crimp_fs_usage_cache *crimp_fs_usage_cache_new(int refresh_seconds)
{
    struct crimp_fs_usage_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    crimp_cond_init_monotonic(&c->wake);
    c->period_ns = (int64_t)(refresh_seconds > 0 ? refresh_seconds : 1) * 1000000000LL;
    if (pthread_create(&c->thread, NULL, refresh_loop, c) != 0)
        abort(); /* like an allocation failure: no way to go on */
    return c;
}

void crimp_fs_usage_cache_free(struct crimp_fs_usage_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    while (c->n)
        drop(c, c->n - 1);
    free(c->entries);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void crimp_fs_usage_get(struct crimp_fs_usage_cache *c, const char *dir,
                        struct crimp_fs_usage *out)
{
    int64_t mono = crimp_now_mono_ns();
    pthread_mutex_lock(&c->lock);
    ssize_t i = find(c, dir);
    if (i >= 0) {
        c->entries[i].asked_ns = mono;
        *out = c->entries[i].usage;
        pthread_mutex_unlock(&c->lock);
        return;
    }
    pthread_mutex_unlock(&c->lock);
    crimp_fs_usage_walk(dir, out); /* first ask: walk now, outside the lock */
    pthread_mutex_lock(&c->lock);
    if (find(c, dir) < 0) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->entries = xrealloc(c->entries, c->cap * sizeof(*c->entries));
        }
        c->entries[c->n++] = (struct fs_entry){.dir = xstrdup(dir), .usage = *out,
                                               .asked_ns = mono};
    }
    pthread_mutex_unlock(&c->lock);
}

void crimp_fs_usage_forget(struct crimp_fs_usage_cache *c, const char *dir)
{
    pthread_mutex_lock(&c->lock);
    ssize_t i = find(c, dir);
    if (i >= 0)
        drop(c, (size_t)i);
    pthread_mutex_unlock(&c->lock);
}

void crimp_fs_usage_watch(struct crimp_fs_usage_cache *c, const char *dir)
{
    pthread_mutex_lock(&c->lock);
    ssize_t i = find(c, dir);
    if (i < 0) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->entries = xrealloc(c->entries, c->cap * sizeof(*c->entries));
        }
        /* at_ns 0: due at once, walked by the refresh thread */
        c->entries[c->n] = (struct fs_entry){.dir = xstrdup(dir), .asked_ns = crimp_now_mono_ns()};
        i = (ssize_t)c->n++;
        pthread_cond_signal(&c->wake);
    }
    c->entries[i].watched = true;
    pthread_mutex_unlock(&c->lock);
}

bool crimp_fs_usage_peek(struct crimp_fs_usage_cache *c, const char *dir,
                         struct crimp_fs_usage *out)
{
    pthread_mutex_lock(&c->lock);
    ssize_t i = find(c, dir);
    bool known = i >= 0 && c->entries[i].usage.at_ns != 0;
    if (known)
        *out = c->entries[i].usage;
    pthread_mutex_unlock(&c->lock);
    return known;
}
