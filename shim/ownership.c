/* The ownership table: a chained hash of IDs under one mutex.  Lookups are
 * a hash and a string compare; the lock is held for nanoseconds, and only
 * calls naming an ID take it.  */
#include "ownership.h"

#include <pthread.h>
#include <string.h>

#include "utils.h"

#define BUCKETS 4096

struct entry {
    struct entry *next;
    char *id;
    char *pod_id; /* containers: their pod */
    bool is_pod;
    int backend;
};

struct crimp_ownership {
    pthread_mutex_t lock;
    struct entry *buckets[BUCKETS];
};

static size_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % BUCKETS);
}

struct crimp_ownership *crimp_ownership_new(void)
{
    struct crimp_ownership *o = xcalloc(1, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    return o;
}

void crimp_ownership_free(struct crimp_ownership *o)
{
    if (o == NULL)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        while (o->buckets[b]) {
            struct entry *e = o->buckets[b];
            o->buckets[b] = e->next;
            free(e->id);
            free(e->pod_id);
            free(e);
        }
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static struct entry *find_locked(struct crimp_ownership *o, const char *id)
{
    for (struct entry *e = o->buckets[hash_id(id)]; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

void crimp_ownership_set(struct crimp_ownership *o, const char *id, const char *pod_id,
                         int backend)
{
    if (str_empty(id) || backend < 0)
        return;
    pthread_mutex_lock(&o->lock);
    struct entry *e = find_locked(o, id);
    if (e == NULL) {
        e = xcalloc(1, sizeof(*e));
        e->id = xstrdup(id);
        size_t b = hash_id(id);
        e->next = o->buckets[b];
        o->buckets[b] = e;
    }
    e->is_pod = pod_id == NULL;
    if (pod_id && (e->pod_id == NULL || strcmp(e->pod_id, pod_id) != 0)) {
        free(e->pod_id);
        e->pod_id = xstrdup(pod_id);
    }
    e->backend = backend;
    pthread_mutex_unlock(&o->lock);
}

void crimp_ownership_remove(struct crimp_ownership *o, const char *id)
{
    if (str_empty(id))
        return;
    pthread_mutex_lock(&o->lock);
    for (struct entry **p = &o->buckets[hash_id(id)]; *p; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0) {
            struct entry *e = *p;
            *p = e->next;
            free(e->id);
            free(e->pod_id);
            free(e);
            break;
        }
    pthread_mutex_unlock(&o->lock);
}

/* Removing a pod removes its containers too; a scan is fine for a call
 * that takes the runtime far longer.  */
void crimp_ownership_remove_pod(struct crimp_ownership *o, const char *pod_id)
{
    if (str_empty(pod_id))
        return;
    crimp_ownership_remove(o, pod_id);
    pthread_mutex_lock(&o->lock);
    for (size_t b = 0; b < BUCKETS; b++)
        for (struct entry **p = &o->buckets[b]; *p;) {
            struct entry *e = *p;
            if (e->pod_id && strcmp(e->pod_id, pod_id) == 0) {
                *p = e->next;
                free(e->id);
                free(e->pod_id);
                free(e);
            } else {
                p = &e->next;
            }
        }
    pthread_mutex_unlock(&o->lock);
}

int crimp_ownership_get(struct crimp_ownership *o, const char *id)
{
    if (str_empty(id))
        return -1;
    pthread_mutex_lock(&o->lock);
    struct entry *e = find_locked(o, id);
    int backend = e ? e->backend : -1;
    pthread_mutex_unlock(&o->lock);
    return backend;
}

/* The owner of the pods or containers (POD) whose IDs start with PREFIX,
 * -1 for none; *ALSO a second owner, else -1 (lock held).  Several IDs on
 * one backend are that backend's to resolve or refuse.  */
static int owners_by_prefix_locked(struct crimp_ownership *o, const char *prefix, bool pod,
                                   int *also)
{
    int backend = -1;
    size_t n = strlen(prefix);
    for (size_t b = 0; b < BUCKETS; b++)
        for (struct entry *e = o->buckets[b]; e; e = e->next) {
            /* Aliases ("pod-uid/...") are no pod's or container's ID.  */
            if (e->is_pod != pod || strncmp(e->id, prefix, n) != 0 || strchr(e->id, '/'))
                continue;
            if (backend < 0)
                backend = e->backend;
            else if (e->backend != backend)
                *also = e->backend;
        }
    return backend;
}

int crimp_ownership_get_kind(struct crimp_ownership *o, const char *id, bool pod, int *also)
{
    int unused;
    also = also ? also : &unused;
    *also = -1;
    if (str_empty(id))
        return -1;
    pthread_mutex_lock(&o->lock);
    struct entry *e = find_locked(o, id);
    int backend = e ? (e->is_pod == pod ? e->backend : -1)
                    : owners_by_prefix_locked(o, id, pod, also);
    pthread_mutex_unlock(&o->lock);
    return backend;
}

void crimp_ownership_count(struct crimp_ownership *o, int backend, size_t *pods,
                           size_t *containers)
{
    *pods = *containers = 0;
    pthread_mutex_lock(&o->lock);
    for (size_t b = 0; b < BUCKETS; b++)
        for (struct entry *e = o->buckets[b]; e; e = e->next)
            if (e->backend == backend && strchr(e->id, '/') == NULL) /* not an alias */
                (*(e->is_pod ? pods : containers))++;
    pthread_mutex_unlock(&o->lock);
}
