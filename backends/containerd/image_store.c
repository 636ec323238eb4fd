/* The containerd backend's image records in memory, followed through
 * containerd's events (image_store.h).  */
#include "image_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/events/image.pb-c.h"
#include "github.com/containerd/containerd/api/events/snapshot.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "log.h"
#include "utils.h"

typedef Containerd__Services__Images__V1__Image ctrd_record;
typedef Containerd__Services__Images__V1__ListImagesResponse ctrd_record_list;

struct ctrd_image_store {
    struct ctrd_backend *b;
    pthread_rwlock_t lock; /* guards recs and unpacked */
    ctrd_record **recs;
    size_t n, cap;
    char **unpacked; /* chain IDs a Stat found */
    size_t n_unpacked, cap_unpacked;
    atomic_bool current;
    atomic_bool stopping;
    pthread_mutex_t stream_mu; /* guards stream, for the canceller */
    struct ctrd_stream *stream;
    pthread_t thread;
    bool followed; /* a stream was up before: the next one is a reconnect */
};

/* A deep copy of REC (one allocation tree, freed with free_unpacked).  */
static ctrd_record *record_copy(const ctrd_record *rec)
{
    size_t len = protobuf_c_message_get_packed_size(&rec->base);
    uint8_t *buf = xmalloc(len ? len : 1);
    protobuf_c_message_pack(&rec->base, buf);
    ctrd_record *copy = containerd__services__images__v1__image__unpack(NULL, len, buf);
    free(buf);
    if (copy == NULL)
        abort(); /* what was just packed unpacks: only memory can fail */
    return copy;
}

/* ---- the records (write lock held) ---------------------------------------- */

static ssize_t find_locked(struct ctrd_image_store *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->recs[i]->name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static void put_locked(struct ctrd_image_store *s, ctrd_record *rec)
{
    ssize_t i = find_locked(s, rec->name);
    if (i >= 0) {
        protobuf_c_message_free_unpacked(&s->recs[i]->base, NULL);
        s->recs[i] = rec;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->recs = xrealloc(s->recs, s->cap * sizeof(*s->recs));
    }
    s->recs[s->n++] = rec;
}

static void forget_locked(struct ctrd_image_store *s, const char *name)
{
    ssize_t i = find_locked(s, name);
    if (i < 0)
        return;
    protobuf_c_message_free_unpacked(&s->recs[i]->base, NULL);
    s->recs[i] = s->recs[--s->n];
}

static void clear_locked(struct ctrd_image_store *s)
{
    while (s->n)
        protobuf_c_message_free_unpacked(&s->recs[--s->n]->base, NULL);
    while (s->n_unpacked)
        free(s->unpacked[--s->n_unpacked]);
}

void ctrd_image_store_put(struct ctrd_image_store *s, const ctrd_record *rec)
{
    if (s == NULL || rec == NULL || rec->name == NULL || rec->target == NULL)
        return;
    ctrd_record *copy = record_copy(rec);
    pthread_rwlock_wrlock(&s->lock);
    put_locked(s, copy);
    pthread_rwlock_unlock(&s->lock);
}

void ctrd_image_store_forget(struct ctrd_image_store *s, const char *name)
{
    if (s == NULL)
        return;
    pthread_rwlock_wrlock(&s->lock);
    forget_locked(s, name);
    pthread_rwlock_unlock(&s->lock);
}

/* ---- reads ------------------------------------------------------------------ */

int ctrd_image_store_get(struct ctrd_image_store *s, const char *name, ctrd_record **rec)
{
    if (s == NULL || !atomic_load(&s->current))
        return -1;
    pthread_rwlock_rdlock(&s->lock);
    ssize_t i = find_locked(s, name);
    *rec = i >= 0 ? record_copy(s->recs[i]) : NULL;
    pthread_rwlock_unlock(&s->lock);
    return *rec != NULL;
}

ctrd_record_list *ctrd_image_store_list(struct ctrd_image_store *s, const char *digest)
{
    if (s == NULL || !atomic_load(&s->current))
        return NULL;
    ctrd_record_list *list = xmalloc(sizeof(*list));
    containerd__services__images__v1__list_images_response__init(list);
    pthread_rwlock_rdlock(&s->lock);
    list->images = xcalloc(s->n + 1, sizeof(*list->images));
    for (size_t i = 0; i < s->n; i++)
        if (digest == NULL || strcmp(s->recs[i]->target->digest, digest) == 0)
            list->images[list->n_images++] = record_copy(s->recs[i]);
    pthread_rwlock_unlock(&s->lock);
    return list;
}

bool ctrd_image_store_unpacked(struct ctrd_image_store *s, const char *chain_id)
{
    if (s == NULL || !atomic_load(&s->current) || chain_id == NULL)
        return false;
    bool known = false;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->n_unpacked && !known; i++)
        known = strcmp(s->unpacked[i], chain_id) == 0;
    pthread_rwlock_unlock(&s->lock);
    return known;
}

void ctrd_image_store_set_unpacked(struct ctrd_image_store *s, const char *chain_id)
{
    if (s == NULL || chain_id == NULL || ctrd_image_store_unpacked(s, chain_id))
        return;
    pthread_rwlock_wrlock(&s->lock);
    if (s->n_unpacked == s->cap_unpacked) {
        s->cap_unpacked = s->cap_unpacked ? s->cap_unpacked * 2 : 32;
        s->unpacked = xrealloc(s->unpacked, s->cap_unpacked * sizeof(*s->unpacked));
    }
    s->unpacked[s->n_unpacked++] = xstrdup(chain_id);
    pthread_rwlock_unlock(&s->lock);
}

static void snapshot_removed(struct ctrd_image_store *s, const char *key)
{
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < s->n_unpacked; i++)
        if (strcmp(s->unpacked[i], key) == 0) {
            free(s->unpacked[i]);
            s->unpacked[i] = s->unpacked[--s->n_unpacked];
            break;
        }
    pthread_rwlock_unlock(&s->lock);
}

/* ---- following containerd --------------------------------------------------- */

/* Reads NAME again after an event: present, changed, or gone.  */
static void refetch(struct ctrd_image_store *s, const char *name)
{
    struct ctrd_opts o = {0};
    ctrd_record *rec = NULL;
    cleanup_error crimp_error_t err = NULL;
    int found = ctrd_image_record_fetch(s->b, &o, name, &rec, &err);
    if (found < 0) {
        log_debug("containerd: images: get %s: %s", name, err->msg);
        return;
    }
    pthread_rwlock_wrlock(&s->lock);
    if (found)
        put_locked(s, rec);
    else
        forget_locked(s, name);
    pthread_rwlock_unlock(&s->lock);
}

#define UNPACK_NAME(type, any)                                                                     \
    containerd__services__images__v1__##type##__unpack(NULL, (any)->value.len, (any)->value.data)

static void apply(struct ctrd_image_store *s, const Containerd__Services__Events__V1__Envelope *e)
{
    const char *topic = e->topic ? e->topic : "";
    if (e->event == NULL ||
        strcmp(e->namespace_ ? e->namespace_ : "", ctrd_conn_namespace(s->b->conn)) != 0)
        return;
    /* ImageUpdate has ImageCreate's fields (name, labels): one decoder.  */
    if (strcmp(topic, "/images/create") == 0 || strcmp(topic, "/images/update") == 0) {
        Containerd__Services__Images__V1__ImageCreate *ev = UNPACK_NAME(image_create, e->event);
        if (ev && ev->name)
            refetch(s, ev->name);
        if (ev)
            protobuf_c_message_free_unpacked(&ev->base, NULL);
    } else if (strcmp(topic, "/images/delete") == 0) {
        Containerd__Services__Images__V1__ImageDelete *ev = UNPACK_NAME(image_delete, e->event);
        if (ev && ev->name)
            ctrd_image_store_forget(s, ev->name);
        if (ev)
            protobuf_c_message_free_unpacked(&ev->base, NULL);
    } else if (strcmp(topic, "/snapshot/remove") == 0) {
        Containerd__Events__SnapshotRemove *ev = containerd__events__snapshot_remove__unpack(
            NULL, e->event->value.len, e->event->value.data);
        if (ev && ev->key)
            snapshot_removed(s, ev->key);
        if (ev)
            protobuf_c_message_free_unpacked(&ev->base, NULL);
    }
}

/* Every record now, replacing what was known (unpacked chains are asked
 * again too: a removal may have gone unseen).  */
static int resync(struct ctrd_image_store *s, crimp_error_t *err)
{
    struct ctrd_opts o = {0};
    ctrd_record_list *all = ctrd_image_records_fetch(s->b, &o, NULL, err);
    if (all == NULL)
        return -1;
    pthread_rwlock_wrlock(&s->lock);
    clear_locked(s);
    for (size_t i = 0; i < all->n_images; i++)
        if (all->images[i]->name && all->images[i]->target)
            put_locked(s, record_copy(all->images[i]));
    pthread_rwlock_unlock(&s->lock);
    protobuf_c_message_free_unpacked(&all->base, NULL);
    return 0;
}

static struct ctrd_stream *subscribe(struct ctrd_image_store *s, crimp_error_t *err)
{
    const char *ns = ctrd_conn_namespace(s->b->conn);
    cleanup_free char *images = xasprintf("namespace==\"%s\",topic~=\"^/images/\"", ns);
    cleanup_free char *snaps = xasprintf("namespace==\"%s\",topic==\"/snapshot/remove\"", ns);
    char *filters[] = {images, snaps};
    Containerd__Services__Events__V1__SubscribeRequest req =
        CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
    req.filters = filters;
    req.n_filters = 2;
    struct ctrd_opts o = {.timeout_s = -1, .quiet_start = true}; /* cancellable at once */
    return ctrd_stream_start(s->b->conn, &o, CTRD_EVENTS "Subscribe", &req.base, err);
}

#define SHIM_SWEEP_AFTER_RECONNECT_NS (5LL * 1000 * 1000 * 1000)

/* Subscribes, resyncs, applies events until the stream ends.  */
static int follow_once(struct ctrd_image_store *s, crimp_error_t *err)
{
    struct ctrd_stream *st = subscribe(s, err);
    if (st == NULL)
        return -1;
    pthread_mutex_lock(&s->stream_mu);
    s->stream = st;
    bool stop = atomic_load(&s->stopping);
    pthread_mutex_unlock(&s->stream_mu);
    int r = stop ? 0 : resync(s, err); /* stopping: the cancel came before the stream */
    if (r == 0 && !stop) {
        atomic_store(&s->current, true);
        /* containerd came back: a restart mid-call may have leaked shims.
         * Later, so that the calls it had in flight settle first.  */
        if (s->followed)
            ctrd_monitor_sweep_shims(s->b, SHIM_SWEEP_AFTER_RECONNECT_NS);
        s->followed = true;
    }
    Containerd__Services__Events__V1__Envelope *e = NULL;
    while (r == 0 && !stop &&
           (r = ctrd_stream_next(st, &containerd__services__events__v1__envelope__descriptor,
                                 (ProtobufCMessage **)&e, err)) > 0) {
        apply(s, e);
        protobuf_c_message_free_unpacked(&e->base, NULL);
        r = 0;
    }
    atomic_store(&s->current, false);
    pthread_mutex_lock(&s->stream_mu);
    s->stream = NULL;
    pthread_mutex_unlock(&s->stream_mu);
    ctrd_stream_free(st);
    return r;
}

static void *follow_main(void *arg)
{
    struct ctrd_image_store *s = arg;
    int backoff_ms = 100;
    while (!atomic_load(&s->stopping)) {
        crimp_error_t err = NULL;
        int64_t began = crimp_now_mono_ns();
        if (follow_once(s, &err) < 0 && !atomic_load(&s->stopping))
            log_debug("containerd: images: events: %s; again in %d ms", err->msg, backoff_ms);
        crimp_error_release(&err);
        if (crimp_now_mono_ns() - began > 10 * 1000000000LL)
            backoff_ms = 100; /* it ran a while: a fresh failure */
        for (int waited = 0; waited < backoff_ms && !atomic_load(&s->stopping); waited += 50)
            usleep(50000);
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
    return NULL;
}

struct ctrd_image_store *ctrd_image_store_new(struct ctrd_backend *b)
{
    struct ctrd_image_store *s = xcalloc(1, sizeof(*s));
    s->b = b;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->stream_mu, NULL);
    if (pthread_create(&s->thread, NULL, follow_main, s) != 0)
        abort();
    return s;
}

void ctrd_image_store_free(struct ctrd_image_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->stream_mu);
    atomic_store(&s->stopping, true);
    if (s->stream)
        ctrd_stream_cancel(s->stream);
    pthread_mutex_unlock(&s->stream_mu);
    pthread_join(s->thread, NULL);
    clear_locked(s);
    free(s->recs);
    free(s->unpacked);
    pthread_mutex_destroy(&s->stream_mu);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}
