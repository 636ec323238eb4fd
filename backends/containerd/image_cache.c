/* What an image's content says — its ID, config, top chain ID and size —
 * kept per digest of the image record's target.  Content is addressed by
 * digest, so an entry is never stale: a retag points the record at another
 * digest, a new entry.  Without it every CreateContainer and every
 * ListImages entry read the index, manifest and config blobs again (two or
 * three Content/Read round trips, ~1 ms each here).  Bounded: past MAX
 * entries the least recently used goes.  */
#include <pthread.h>
#include <string.h>

#include "containerd-internal.h"
#include "utils.h"

struct cache_entry {
    char *digest;
    struct ctrd_image img; /* id, config, chain_id, size; no names */
    uint64_t used;         /* tick of the last hit, for eviction */
};

struct ctrd_image_cache {
    pthread_mutex_t mu;
    struct cache_entry *entries;
    size_t n, max;
    uint64_t tick;
};

struct ctrd_image_cache *ctrd_image_cache_new(size_t max)
{
    struct ctrd_image_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->max = max ? max : 1;
    c->entries = xcalloc(c->max, sizeof(*c->entries));
    return c;
}

static void entry_clear(struct cache_entry *e)
{
    free(e->digest);
    ctrd_image_clear(&e->img);
    memset(e, 0, sizeof(*e));
}

void ctrd_image_cache_free(struct ctrd_image_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->entries[i]);
    free(c->entries);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void copy_content(struct ctrd_image *dst, const struct ctrd_image *src)
{
    dst->id = xstrdup(src->id);
    dst->config = json_deep_copy(src->config);
    dst->chain_id = xstrdup(src->chain_id);
    dst->size = src->size;
}

bool ctrd_image_cache_get(struct ctrd_image_cache *c, const char *digest, struct ctrd_image *img)
{
    pthread_mutex_lock(&c->mu);
    bool hit = false;
    for (size_t i = 0; i < c->n && !hit; i++) {
        struct cache_entry *e = &c->entries[i];
        if (strcmp(e->digest, digest) != 0)
            continue;
        e->used = ++c->tick;
        copy_content(img, &e->img);
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void ctrd_image_cache_put(struct ctrd_image_cache *c, const char *digest,
                          const struct ctrd_image *img)
{
    pthread_mutex_lock(&c->mu);
    struct cache_entry *slot = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].digest, digest) == 0)
            slot = &c->entries[i]; /* a racing put: refresh it */
    if (slot == NULL && c->n < c->max)
        slot = &c->entries[c->n++];
    if (slot == NULL) {
        slot = &c->entries[0];
        for (size_t i = 1; i < c->n; i++)
            if (c->entries[i].used < slot->used)
                slot = &c->entries[i];
    }
    entry_clear(slot);
    slot->digest = xstrdup(digest);
    copy_content(&slot->img, img);
    slot->used = ++c->tick;
    pthread_mutex_unlock(&c->mu);
}
