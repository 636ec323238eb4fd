/* Disk usage of directories (a container's writable layer), measured off
 * the stats path.  Walking a layer is the one expensive part of container
 * stats: at 100 containers a walk per container per call costs more than
 * everything else together.  So a cache keeps one figure per directory and
 * a background thread walks each directory again when its figure is older
 * than the refresh period; a stats call only reads the figure.  Only the
 * first ask for a directory walks it inline (nothing to answer with yet).
 * Directories nobody asked about for a few periods are dropped.  */
#ifndef CRIMP_FS_USAGE_H
#define CRIMP_FS_USAGE_H

#include <stdbool.h>
#include <stdint.h>

struct crimp_fs_usage {
    uint64_t bytes;  /* allocated blocks, as du counts them */
    uint64_t inodes; /* entries, the directory itself included */
    int64_t at_ns;   /* wall clock of the walk */
};

/* One walk of DIR (not crossing mounts); zeros when DIR is missing.  */
void crimp_fs_usage_walk(const char *dir, struct crimp_fs_usage *out);

struct crimp_fs_usage_cache;

/* Starts the refresh thread; REFRESH_SECONDS ≥ 1 bounds a figure's age.  */
struct crimp_fs_usage_cache *crimp_fs_usage_cache_new(int refresh_seconds);
/* Stops the thread and frees the cache (NULL is fine).  */
void crimp_fs_usage_cache_free(struct crimp_fs_usage_cache *c);

/* The usage of DIR: the cached figure, or a walk now when there is none.
 * Thread-safe.  */
void crimp_fs_usage_get(struct crimp_fs_usage_cache *c, const char *dir,
                        struct crimp_fs_usage *out);

/* Keeps DIR measured by the refresh thread from now on, asked or not (a
 * figure a call must answer without walking: the image filesystem).  */
void crimp_fs_usage_watch(struct crimp_fs_usage_cache *c, const char *dir);

/* The cached figure of DIR, never walking: false when there is none yet.  */
bool crimp_fs_usage_peek(struct crimp_fs_usage_cache *c, const char *dir,
                         struct crimp_fs_usage *out);

/* Forgets DIR (its container is gone).  */
void crimp_fs_usage_forget(struct crimp_fs_usage_cache *c, const char *dir);

#endif
