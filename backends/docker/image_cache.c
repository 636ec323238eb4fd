/* The docker backend's image cache: a list plus one inspect per new image
 * ID, refreshed on Docker's image events.  */
#include "image_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "docker-internal.h"
#include "follow.h"
#include "log.h"
#include "utils.h"

struct docker_image_cache {
    struct docker_backend *d;
    pthread_mutex_t sync;  /* one resync at a time */
    pthread_rwlock_t lock; /* guards images and root */
    json_t *images;        /* Id -> image object */
    /* IDs crimp removed -> the epoch of their removal: a resync whose list
     * began before that epoch must not bring them back.  */
    json_t *forgotten;
    json_int_t epoch;
    char *root;
    atomic_bool following;
    atomic_bool stopping;
    pthread_t thread;
};

/* The fields the CRI calls read, from a /images/{id}/json answer.  */
static json_t *image_of_inspect(json_t *inspect)
{
    const char *user =
        json_string_value(json_object_get(json_object_get(inspect, "Config"), "User"));
    return json_pack("{s:s, s:O, s:O, s:I, s:{s:s}}", "Id",
                     json_string_value(json_object_get(inspect, "Id")) ?: "", "RepoTags",
                     json_object_get(inspect, "RepoTags") ?: json_array(), "RepoDigests",
                     json_object_get(inspect, "RepoDigests") ?: json_array(), "Size",
                     json_integer_value(json_object_get(inspect, "Size")), "Config", "User",
                     user ? user : "");
}

/* The entry for list item ITEM: the known one with tags, digests and size
 * as the list says now, or a fresh inspect.  NULL when it vanished.  */
static json_t *image_of_list_item(struct docker_image_cache *c, json_t *known, json_t *item,
                                  crimp_error_t *err)
{
    const char *id = json_string_value(json_object_get(item, "Id"));
    json_t *old = json_object_get(known, id);
    if (old) {
        json_t *img = json_deep_copy(old);
        json_object_set(img, "RepoTags", json_object_get(item, "RepoTags") ?: json_array());
        json_object_set(img, "RepoDigests", json_object_get(item, "RepoDigests") ?: json_array());
        json_object_set(img, "Size", json_object_get(item, "Size") ?: json_integer(0));
        return img;
    }
    json_auto_t *inspect = NULL;
    cleanup_error crimp_error_t ierr = NULL;
    if (docker_get_json(c->d->client, "/images/{id}/json", id, NULL, &inspect, &ierr) < 0) {
        if (ierr->code == GRPC_STATUS_NOT_FOUND)
            return NULL; /* removed since the list */
        *err = steal_ptr(&ierr);
        return NULL;
    }
    return image_of_inspect(inspect);
}

/* Docker's root directory, asked once: it does not move while dockerd runs.  */
static int learn_root(struct docker_image_cache *c, crimp_error_t *err)
{
    pthread_rwlock_rdlock(&c->lock);
    bool known = c->root != NULL;
    pthread_rwlock_unlock(&c->lock);
    if (known)
        return 0;
    json_auto_t *info = NULL;
    if (docker_get_json(c->d->client, "/info", NULL, NULL, &info, err) < 0)
        return -1;
    const char *root = json_string_value(json_object_get(info, "DockerRootDir"));
    pthread_rwlock_wrlock(&c->lock);
    if (c->root == NULL)
        c->root = xstrdup(root ? root : "/var/lib/docker");
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

/* Removes from FRESH (listed at epoch LISTED_AT) what crimp removed
 * after the list began; removals before it are in every later list and
 * need no record any more.  Write lock held.  */
static void drop_forgotten(struct docker_image_cache *c, json_t *fresh, json_int_t listed_at)
{
    const char *id;
    json_t *at, *tmp;
    json_object_foreach_safe (c->forgotten, tmp, id, at) {
        if (json_integer_value(at) > listed_at)
            json_object_del(fresh, id);
        else
            json_object_del(c->forgotten, id);
    }
}

static int resync_locked(struct docker_image_cache *c, crimp_error_t *err)
{
    if (learn_root(c, err) < 0)
        return -1;
    pthread_rwlock_rdlock(&c->lock);
    json_int_t listed_at = c->epoch;
    pthread_rwlock_unlock(&c->lock);
    json_auto_t *list = NULL;
    if (docker_get_json(c->d->client, "/images/json", NULL, NULL, &list, err) < 0)
        return -1;
    pthread_rwlock_rdlock(&c->lock);
    json_auto_t *known = json_incref(c->images); /* only resyncs replace it */
    pthread_rwlock_unlock(&c->lock);
    json_t *fresh = json_object();
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item) {
        const char *id = json_string_value(json_object_get(item, "Id"));
        json_t *img = id ? image_of_list_item(c, known, item, err) : NULL;
        if (*err) {
            json_decref(fresh);
            return -1;
        }
        if (img)
            json_object_set_new(fresh, id, img);
    }
    pthread_rwlock_wrlock(&c->lock);
    drop_forgotten(c, fresh, listed_at);
    json_decref(c->images);
    c->images = fresh;
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

int docker_image_cache_refresh(struct docker_image_cache *c, crimp_error_t *err)
{
    pthread_mutex_lock(&c->sync);
    int rc = resync_locked(c, err);
    pthread_mutex_unlock(&c->sync);
    return rc;
}

void docker_image_cache_forget(struct docker_image_cache *c, const char *id)
{
    /* Not behind a resync under way (the removal's own events start one):
     * the record keeps that resync from bringing the image back.  */
    pthread_rwlock_wrlock(&c->lock);
    json_object_del(c->images, id);
    json_object_set_new(c->forgotten, id, json_integer(++c->epoch));
    pthread_rwlock_unlock(&c->lock);
}

bool docker_image_cache_current(struct docker_image_cache *c)
{
    return atomic_load(&c->following);
}

json_t *docker_image_cache_list(struct docker_image_cache *c)
{
    if (!atomic_load(&c->following))
        return NULL;
    json_t *out = json_array();
    pthread_rwlock_rdlock(&c->lock);
    const char *id;
    json_t *img;
    json_object_foreach (c->images, id, img)
        json_array_append(out, img);
    pthread_rwlock_unlock(&c->lock);
    return out;
}

char *docker_image_cache_root(struct docker_image_cache *c, crimp_error_t *err)
{
    if (learn_root(c, err) < 0)
        return NULL;
    pthread_rwlock_rdlock(&c->lock);
    char *root = xstrdup(c->root);
    pthread_rwlock_unlock(&c->lock);
    return root;
}

static int resync_cb(void *ctx, crimp_error_t *err)
{
    return docker_image_cache_refresh(ctx, err);
}

/* Every image event may change tags, digests or the set of IDs: list again
 * (new IDs only are inspected).  */
static bool on_event_line(void *ctx, char *line)
{
    struct docker_image_cache *c = ctx;
    json_auto_t *e = json_loads(line, 0, NULL);
    const char *action = json_string_value(json_object_get(e, "Action"));
    log_debug("docker: images: docker event %s", action ? action : "?");
    cleanup_error crimp_error_t err = NULL;
    if (docker_image_cache_refresh(c, &err) < 0) {
        log_debug("docker: images: resync after an event: %s", err->msg);
        return false; /* reconnect, which resyncs again */
    }
    return !atomic_load(&c->stopping);
}

static void *follow_main(void *arg)
{
    struct docker_image_cache *c = arg;
    json_auto_t *filters = json_pack("{s:[s]}", "type", "image");
    struct docker_follower f = {.what = "images", .filters = filters, .resync = resync_cb,
                                .on_line = on_event_line, .ctx = c,
                                .following = &c->following, .stopping = &c->stopping};
    docker_follow_events(c->d, &f);
    return NULL;
}

struct docker_image_cache *docker_image_cache_new(struct docker_backend *d)
{
    struct docker_image_cache *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->images = json_object();
    c->forgotten = json_object();
    pthread_mutex_init(&c->sync, NULL);
    pthread_rwlock_init(&c->lock, NULL);
    if (pthread_create(&c->thread, NULL, follow_main, c) != 0)
        abort();
    return c;
}

void docker_image_cache_free(struct docker_image_cache *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->stopping, true);
    pthread_join(c->thread, NULL);
    json_decref(c->images);
    json_decref(c->forgotten);
    free(c->root);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->sync);
    free(c);
}
