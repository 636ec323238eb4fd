/* The docker backend's inventory for stats: entries filled by inspect,
 * refreshed from Docker's /events stream and crimp's own calls.  */
#include "inventory.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "docker-internal.h"
#include "follow.h"
#include "log.h"
#include "utils.h"

struct inv_entry {
    char *id;
    bool known; /* inspected at least once; a stub only carries the ID */
    bool sandbox;
    char *pod_id;
    struct docker_cri_meta meta;
    bool running;
    pid_t pid;
    struct crimp_cgroup_dirs cgroup;
    char *upper_dir;
    char *image;
    json_t *inspect; /* the whole inspect, for status calls */
    json_t *summary; /* the same in /containers/json's shape, for lists */
    unsigned gen, fresh_gen; /* stale while they differ */
    unsigned long touched;   /* inventory epoch of the last touch */
};

struct docker_inventory {
    struct docker_backend *d;
    pthread_rwlock_t lock; /* guards everything below */
    struct inv_entry *entries;
    size_t n, cap;
    unsigned long epoch; /* bumped by every touch */
    atomic_bool following;
    atomic_bool stopping;
    pthread_t thread;
};

/* Entries.  Write lock held.  */

static void entry_release(struct docker_inventory *inv, struct inv_entry *e)
{
    if (e->upper_dir && inv->d->fs_usage)
        crimp_fs_usage_forget(inv->d->fs_usage, e->upper_dir);
    free(e->id);
    free(e->pod_id);
    free(e->upper_dir);
    free(e->image);
    json_decref(e->inspect);
    json_decref(e->summary);
    if (e->known)
        docker_cri_meta_free(&e->meta);
    crimp_cgroup_dirs_release(&e->cgroup);
}

static void entry_drop(struct docker_inventory *inv, size_t i)
{
    entry_release(inv, &inv->entries[i]);
    inv->entries[i] = inv->entries[--inv->n];
}

static ssize_t entry_find(struct docker_inventory *inv, const char *id, bool prefix)
{
    size_t n = strlen(id);
    for (size_t i = 0; i < inv->n; i++)
        if (prefix ? strncmp(inv->entries[i].id, id, n) == 0
                   : strcmp(inv->entries[i].id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static struct inv_entry *entry_add(struct docker_inventory *inv, const char *id)
{
    if (inv->n == inv->cap) {
        inv->cap = inv->cap ? inv->cap * 2 : 64;
        inv->entries = xrealloc(inv->entries, inv->cap * sizeof(*inv->entries));
    }
    struct inv_entry *e = &inv->entries[inv->n++];
    *e = (struct inv_entry){.id = xstrdup(id), .gen = 1, .touched = ++inv->epoch};
    return e;
}

static void entry_touch_locked(struct docker_inventory *inv, const char *id)
{
    bool hit = false;
    size_t n = strlen(id);
    for (size_t i = 0; i < inv->n; i++)
        if (strncmp(inv->entries[i].id, id, n) == 0) {
            inv->entries[i].gen++;
            inv->entries[i].touched = ++inv->epoch;
            hit = true;
        }
    if (!hit)
        entry_add(inv, id);
}

void docker_inventory_touch(struct docker_inventory *inv, const char *id)
{
    if (str_empty(id))
        return;
    pthread_rwlock_wrlock(&inv->lock);
    entry_touch_locked(inv, id);
    pthread_rwlock_unlock(&inv->lock);
}

/* Inspect results into an entry.  */

/* What one inspect says, parsed outside the lock.  */
struct inspected {
    char *id;
    bool ours, sandbox, running;
    char *pod_id, *upper_dir, *image;
    pid_t pid;
    struct docker_cri_meta meta;
    struct crimp_cgroup_dirs cgroup;
    json_t *inspect, *summary;
};

/* An inspect in the shape of a /containers/json entry, the fields the
 * lists read: what `docker ps` would have said at the time of the inspect.  */
static json_t *summary_of_inspect(json_t *inspect)
{
    json_t *config = json_object_get(inspect, "Config");
    json_t *state = json_object_get(inspect, "State");
    json_t *labels = json_object_get(config, "Labels");
    const char *name = json_string_value(json_object_get(inspect, "Name")) ?: "";
    cleanup_free char *slashed = name[0] == '/' ? xstrdup(name) : xasprintf("/%s", name);
    int64_t created = docker_parse_time(json_string_value(json_object_get(inspect, "Created")));
    return json_pack("{s:s, s:[s], s:O, s:s, s:s, s:s, s:I}", "Id",
                     json_string_value(json_object_get(inspect, "Id")) ?: "", "Names", slashed,
                     "Labels", labels ? labels : json_object(), "Image",
                     json_string_value(json_object_get(config, "Image")) ?: "", "ImageID",
                     json_string_value(json_object_get(inspect, "Image")) ?: "", "State",
                     json_string_value(json_object_get(state, "Status")) ?: "", "Created",
                     (json_int_t)(created / 1000000000LL));
}

static void inspected_parse(json_t *inspect, struct inspected *x)
{
    memset(x, 0, sizeof(*x));
    x->id = xstrdup_or_null(json_string_value(json_object_get(inspect, "Id")));
    json_t *labels = json_object_get(json_object_get(inspect, "Config"), "Labels");
    const char *type = json_string_value(json_object_get(labels, DOCKER_LABEL_TYPE)) ?: "";
    crimp_error_t e = NULL;
    x->ours = x->id && docker_cri_meta_read(labels, json_string_value(json_object_get(inspect, "Name")),
                                            &x->meta, &e) == 0;
    crimp_error_release(&e);
    if (!x->ours)
        return;
    x->sandbox = strcmp(type, DOCKER_TYPE_SANDBOX) == 0;
    x->inspect = json_incref(inspect);
    x->summary = summary_of_inspect(inspect);
    x->pod_id = xstrdup_or_null(json_string_value(json_object_get(labels, DOCKER_LABEL_SANDBOX_ID)));
    x->upper_dir = xstrdup_or_null(json_string_value(json_object_get(
        json_object_get(json_object_get(inspect, "GraphDriver"), "Data"), "UpperDir")));
    x->image = xstrdup_or_null(
        json_string_value(json_object_get(json_object_get(inspect, "Config"), "Image")));
    json_t *state = json_object_get(inspect, "State");
    json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
    x->running = json_is_true(json_object_get(state, "Running")) && pid > 0;
    if (x->running && crimp_cgroup_dirs_of_pid((pid_t)pid, &x->cgroup, &e) < 0) {
        crimp_error_release(&e); /* exited meanwhile */
        x->running = false;
    }
    x->pid = x->running ? (pid_t)pid : 0;
}

static void inspected_release(struct inspected *x)
{
    free(x->id);
    free(x->pod_id);
    free(x->upper_dir);
    free(x->image);
    json_decref(x->inspect);
    json_decref(x->summary);
    if (x->ours)
        docker_cri_meta_free(&x->meta);
    crimp_cgroup_dirs_release(&x->cgroup);
}

/* Moves X into entry I (whose ID may have been a prefix).  */
static void entry_fill(struct docker_inventory *inv, size_t i, struct inspected *x, unsigned gen)
{
    ssize_t same = entry_find(inv, x->id, false);
    if (same >= 0 && (size_t)same != i) { /* a prefix stub of a known entry */
        entry_drop(inv, i);
        return;
    }
    struct inv_entry *e = &inv->entries[i];
    unsigned long touched = e->touched;
    unsigned egen = e->gen;
    bool keep_layer = e->upper_dir && x->upper_dir && strcmp(e->upper_dir, x->upper_dir) == 0;
    if (keep_layer) { /* same layer: keep its cached usage */
        free(e->upper_dir);
        e->upper_dir = NULL;
    }
    entry_release(inv, e);
    *e = (struct inv_entry){.id = steal_ptr(&x->id), .known = true, .sandbox = x->sandbox,
                            .pod_id = steal_ptr(&x->pod_id), .meta = x->meta,
                            .running = x->running, .pid = x->pid, .cgroup = x->cgroup,
                            .upper_dir = steal_ptr(&x->upper_dir),
                            .image = steal_ptr(&x->image), .inspect = steal_ptr(&x->inspect),
                            .summary = steal_ptr(&x->summary), .gen = egen,
                            .fresh_gen = gen, .touched = touched};
    x->ours = false; /* meta moved */
    memset(&x->cgroup, 0, sizeof(x->cgroup));
}

/* Inspects ID (stale at generation GEN) and applies the result.  */
static void refresh_one(struct docker_inventory *inv, const char *id, unsigned gen)
{
    json_t *inspect = NULL;
    crimp_error_t err = NULL;
    int rc = docker_inspect(inv->d, id, &inspect, &err);
    bool gone = rc < 0 && err->code == GRPC_STATUS_NOT_FOUND;
    if (rc < 0 && !gone) {
        log_debug("docker: inventory: inspect %.12s: %s", id, err->msg);
        crimp_error_release(&err);
        return; /* stays stale: the next read tries again */
    }
    crimp_error_release(&err);
    struct inspected x = {0};
    if (!gone)
        inspected_parse(inspect, &x);
    json_decref(inspect);
    pthread_rwlock_wrlock(&inv->lock);
    ssize_t i = entry_find(inv, id, false);
    if (i >= 0 && inv->entries[i].gen == gen) {
        if (gone || !x.ours)
            entry_drop(inv, (size_t)i);
        else
            entry_fill(inv, (size_t)i, &x, gen);
    }
    pthread_rwlock_unlock(&inv->lock);
    inspected_release(&x);
}

struct stale {
    char *id;
    unsigned gen;
};

/* Inspects every stale entry once; returns how many there were.  */
static size_t refresh_round(struct docker_inventory *inv)
{
    pthread_rwlock_rdlock(&inv->lock);
    struct stale *todo = xcalloc(inv->n + 1, sizeof(*todo));
    size_t n = 0;
    /* Half-made pods the recovery is tearing down are left stale (never
     * listed): an inspect would wait while Docker removes them.  */
    for (size_t i = 0; i < inv->n; i++)
        if (inv->entries[i].gen != inv->entries[i].fresh_gen &&
            !docker_discarding(inv->d, inv->entries[i].id))
            todo[n++] = (struct stale){xstrdup(inv->entries[i].id), inv->entries[i].gen};
    pthread_rwlock_unlock(&inv->lock);
    for (size_t i = 0; i < n; i++) {
        refresh_one(inv, todo[i].id, todo[i].gen);
        free(todo[i].id);
    }
    free(todo);
    return n;
}

/* A touch that lands while its entry is being inspected leaves it stale
 * (the inspect may predate the change): inspect again, a few rounds at
 * most (a container touched without end is left to the next read).  */
static int refresh_stale(struct docker_inventory *inv)
{
    for (int round = 0; round < 5 && refresh_round(inv) > 0; round++)
        ;
    return 0;
}

/* Resync: one list of crimp's containers and sandboxes; what appeared or
 * changed state becomes stale, what vanished is dropped (unless crimp
 * itself touched it after the list began).  */
static void resync_apply(struct docker_inventory *inv, json_t *list, unsigned long epoch0)
{
    pthread_rwlock_wrlock(&inv->lock);
    for (size_t i = 0; i < inv->n;) {
        struct inv_entry *e = &inv->entries[i];
        json_t *seen = NULL, *c;
        size_t k;
        json_array_foreach (list, k, c)
            if (strcmp(json_string_value(json_object_get(c, "Id")) ?: "", e->id) == 0)
                seen = c;
        if (seen == NULL && e->touched <= epoch0 && e->known) {
            entry_drop(inv, i);
            continue;
        }
        const char *state = json_string_value(json_object_get(seen, "State")) ?: "";
        const char *known = json_string_value(json_object_get(e->summary, "State")) ?: "";
        if (seen && strcmp(state, known) != 0)
            e->gen++;
        i++;
    }
    size_t k;
    json_t *c;
    json_array_foreach (list, k, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        if (id && entry_find(inv, id, false) < 0)
            entry_add(inv, id);
    }
    pthread_rwlock_unlock(&inv->lock);
}

static int resync(struct docker_inventory *inv, crimp_error_t *err)
{
    pthread_rwlock_rdlock(&inv->lock);
    unsigned long epoch0 = inv->epoch;
    pthread_rwlock_unlock(&inv->lock);
    json_t *pods = NULL, *containers = NULL;
    if (docker_list(inv->d, DOCKER_TYPE_SANDBOX, NULL, &pods, err) < 0)
        return -1;
    json_auto_t *all = pods;
    if (docker_list(inv->d, DOCKER_TYPE_CONTAINER, NULL, &containers, err) < 0)
        return -1;
    json_array_extend(all, containers);
    json_decref(containers);
    /* dockerd answers: the recovery it held up at start goes first, so
     * that the half-made pods are hidden before the lists show them.  */
    cleanup_error crimp_error_t rerr = NULL;
    if (docker_recover_deferred(inv->d, &rerr) < 0)
        log_warn("docker: %s", rerr->msg);
    resync_apply(inv, all, epoch0);
    return refresh_stale(inv);
}

int docker_inventory_ready(struct docker_inventory *inv, crimp_error_t *err)
{
    if (!atomic_load(&inv->following))
        return resync(inv, err);
    return refresh_stale(inv);
}

size_t docker_inventory_each(struct docker_inventory *inv,
                             void (*fn)(void *ctx, const struct docker_inv_item *item),
                             void *ctx)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&inv->lock);
    for (size_t i = 0; i < inv->n; i++) {
        const struct inv_entry *e = &inv->entries[i];
        if (!e->known)
            continue;
        struct docker_inv_item it = {.id = e->id, .sandbox = e->sandbox, .pod_id = e->pod_id,
                                     .meta = &e->meta, .running = e->running, .pid = e->pid,
                                     .cgroup = e->running ? &e->cgroup : NULL,
                                     .upper_dir = e->upper_dir, .image = e->image};
        fn(ctx, &it);
        n++;
    }
    pthread_rwlock_unlock(&inv->lock);
    return n;
}

size_t docker_inventory_records(struct docker_inventory *inv, bool sandbox,
                                struct docker_inv_record **out)
{
    pthread_rwlock_rdlock(&inv->lock);
    struct docker_inv_record *r = xcalloc(inv->n + 1, sizeof(*r));
    size_t n = 0;
    for (size_t i = 0; i < inv->n; i++) {
        const struct inv_entry *e = &inv->entries[i];
        if (!e->known || e->sandbox != sandbox)
            continue;
        r[n].summary = json_incref(e->summary);
        r[n].meta = e->meta;
        json_incref(r[n].meta.doc); /* the copy shares the document */
        n++;
    }
    pthread_rwlock_unlock(&inv->lock);
    *out = r;
    return n;
}

void docker_inv_records_free(struct docker_inv_record *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(r[i].summary);
        docker_cri_meta_free(&r[i].meta);
    }
    free(r);
}

json_t *docker_inventory_inspect(struct docker_inventory *inv, const char *id)
{
    if (!atomic_load(&inv->following))
        return NULL; /* only the last list's view: not enough for a status */
    json_t *out = NULL;
    pthread_rwlock_rdlock(&inv->lock);
    ssize_t i = entry_find(inv, id, false);
    if (i >= 0 && inv->entries[i].known && inv->entries[i].gen == inv->entries[i].fresh_gen)
        out = json_incref(inv->entries[i].inspect);
    pthread_rwlock_unlock(&inv->lock);
    return out;
}

int docker_inventory_find(struct docker_inventory *inv, const char *id, bool sandbox, char **full)
{
    size_t n = strlen(id);
    int hits = 0;
    *full = NULL;
    pthread_rwlock_rdlock(&inv->lock);
    for (size_t i = 0; i < inv->n; i++) {
        const struct inv_entry *e = &inv->entries[i];
        if (!e->known || e->sandbox != sandbox || strncmp(e->id, id, n) != 0)
            continue;
        if (strcmp(e->id, id) == 0) { /* a full ID wins over the prefixes it is */
            free(*full);
            *full = xstrdup(e->id);
            hits = 1;
            break;
        }
        if (hits++ == 0)
            *full = xstrdup(e->id);
    }
    pthread_rwlock_unlock(&inv->lock);
    if (hits > 1) {
        free(*full);
        *full = NULL;
    }
    return hits;
}

/* The events follower.  */

bool docker_lines_feed(struct docker_lines *l, const char *data, size_t len,
                       bool (*fn)(void *ctx, char *line), void *ctx)
{
    if (l->len + len > DOCKER_LINE_MAX)
        return false; /* no event is this long: the stream is not Docker's */
    if (l->len + len + 1 > l->cap) {
        l->cap = (l->len + len + 1) * 2;
        l->pending = xrealloc(l->pending, l->cap);
    }
    memcpy(l->pending + l->len, data, len);
    /* Only the new bytes can hold the next newline.  */
    char *line = l->pending, *nl = memchr(l->pending + l->len, '\n', len);
    l->len += len;
    l->pending[l->len] = '\0';
    char *end = l->pending + l->len;
    bool go_on = true;
    while (go_on && nl != NULL) {
        *nl = '\0';
        go_on = fn(ctx, line);
        line = nl + 1;
        nl = memchr(line, '\n', (size_t)(end - line));
    }
    l->len = (size_t)(end - line);
    if (line != l->pending)
        memmove(l->pending, line, l->len + 1);
    return go_on;
}

void docker_lines_release(struct docker_lines *l)
{
    free(l->pending);
    l->pending = NULL;
    l->len = l->cap = 0;
}

/* Actions that change what the stats, lists or statuses show; exec_* and
 * the rest do not.  */
static bool changes_state(const char *action)
{
    static const char *const actions[] = {"create", "start", "die",    "destroy", "pause",
                                          "unpause", "oom",   "update", "rename"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(actions); i++)
        if (strcmp(action, actions[i]) == 0)
            return true;
    return false;
}

static bool on_event_line(void *ctx, char *line)
{
    struct docker_inventory *inv = ctx;
    json_auto_t *e = json_loads(line, 0, NULL);
    const char *action = json_string_value(json_object_get(e, "Action"));
    const char *id = json_string_value(json_object_get(e, "id"));
    if (action && id)
        log_debug("docker: inventory: docker event %s %.12s", action, id);
    if (action && id && changes_state(action)) {
        docker_inventory_touch(inv, id);
        refresh_stale(inv);
    }
    return !atomic_load(&inv->stopping);
}

static int resync_cb(void *ctx, crimp_error_t *err)
{
    return resync(ctx, err);
}

static void *follow_main(void *arg)
{
    struct docker_inventory *inv = arg;
    json_auto_t *filters = json_pack("{s:[s], s:[s]}", "type", "container", "label",
                                     DOCKER_LABEL_TYPE);
    struct docker_follower f = {.what = "inventory", .filters = filters, .resync = resync_cb,
                                .on_line = on_event_line, .ctx = inv,
                                .following = &inv->following, .stopping = &inv->stopping};
    docker_follow_events(inv->d, &f);
    return NULL;
}

struct docker_inventory *docker_inventory_new(struct docker_backend *d)
{
    struct docker_inventory *inv = xcalloc(1, sizeof(*inv));
    inv->d = d;
    pthread_rwlock_init(&inv->lock, NULL);
    if (pthread_create(&inv->thread, NULL, follow_main, inv) != 0)
        abort();
    return inv;
}

void docker_inventory_free(struct docker_inventory *inv)
{
    if (inv == NULL)
        return;
    atomic_store(&inv->stopping, true);
    pthread_join(inv->thread, NULL);
    while (inv->n)
        entry_drop(inv, inv->n - 1);
    free(inv->entries);
    pthread_rwlock_destroy(&inv->lock);
    free(inv);
}
