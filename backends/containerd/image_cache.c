/* What an image's content says — its ID, config, top chain ID and size —
 * kept per digest of the image record's target.  Content is addressed by
 * digest, so an entry is never stale: a retag points the record at another
 * digest, a new entry.  Without it every CreateContainer and every
 * ListImages entry read the index, manifest and config blobs again (two or
 * three Content/Read round trips, ~1 ms each here).  Bounded: past MAX
 * entries the least recently used goes.  Also: names resolved to records
 * (below), so CreateContainer's lookup makes no call at all.  */
#include <pthread.h>
#include <string.h>

#include "containerd-internal.h"
#include "utils.h"

struct cache_entry {
    char *digest;
    struct ctrd_image img; /* id, config, chain_id, size; no names */
    uint64_t used;         /* tick of the last hit, for eviction */
};

/* A name as kubelet gave it, resolved to its record: CreateContainer asks
 * for the same few names again and again.  crimp's own PullImage and
 * RemoveImage drop them all; a change made by another client of containerd
 * (ctr) is seen after REF_TTL_NS at the latest.  */
#define REF_TTL_NS (30LL * 1000 * 1000 * 1000)
#define REF_SLOTS  64

struct ref_entry {
    char *ref, *name, *digest;
    int64_t at_ns; /* monotonic */
};

struct ctrd_image_cache {
    pthread_mutex_t mu;
    struct cache_entry *entries;
    size_t n, max;
    uint64_t tick;
    struct ref_entry refs[REF_SLOTS];
    size_t next_ref; /* round-robin replacement */
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
    ctrd_image_refs_forget(c);
    free(c->entries);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void copy_content(struct ctrd_image *dst, const struct ctrd_image *src)
{
    dst->id = xstrdup(src->id);
    /* Shared, not copied: a cached config is never modified (every user
     * only reads it), and jansson counts references atomically.  A deep
     * copy cost ImageStatus more than the rest of the call.  */
    dst->config = json_incref(src->config);
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

/* ---- names ---------------------------------------------------------------- */

static void ref_clear(struct ref_entry *r)
{
    free(r->ref);
    free(r->name);
    free(r->digest);
    *r = (struct ref_entry){0};
}

bool ctrd_image_refs_get(struct ctrd_image_cache *c, const char *ref, char **name, char **digest)
{
    int64_t now = crimp_now_mono_ns();
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < REF_SLOTS && !hit; i++) {
        struct ref_entry *r = &c->refs[i];
        if (r->ref == NULL || strcmp(r->ref, ref) != 0)
            continue;
        if (now - r->at_ns > REF_TTL_NS) {
            ref_clear(r);
            break;
        }
        *name = xstrdup(r->name);
        *digest = xstrdup(r->digest);
        hit = true;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void ctrd_image_refs_put(struct ctrd_image_cache *c, const char *ref, const char *name,
                         const char *digest)
{
    pthread_mutex_lock(&c->mu);
    struct ref_entry *slot = NULL;
    for (size_t i = 0; i < REF_SLOTS && slot == NULL; i++)
        if (c->refs[i].ref && strcmp(c->refs[i].ref, ref) == 0)
            slot = &c->refs[i];
    if (slot == NULL)
        slot = &c->refs[c->next_ref++ % REF_SLOTS];
    ref_clear(slot);
    *slot = (struct ref_entry){xstrdup(ref), xstrdup(name), xstrdup(digest), crimp_now_mono_ns()};
    pthread_mutex_unlock(&c->mu);
}

void ctrd_image_refs_forget(struct ctrd_image_cache *c)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < REF_SLOTS; i++)
        ref_clear(&c->refs[i]);
    pthread_mutex_unlock(&c->mu);
}
