/* The containerd backend's records of its sandboxes and containers: two
 * tables in memory, one checkpoint file per record (common/checkpoint), and
 * the load at start.  The CRI configs are kept as packed protobuf (hex) in
 * the checkpoint: every field kubelet sent comes back in status and lists,
 * including ones crimp does not interpret.  */
#include <errno.h>
#include <string.h>

#include "common/checkpoint.h"
#include "containerd-internal.h"
#include "log.h"
#include "utils.h"

struct table {
    void **v;
    size_t n, cap;
};

struct ctrd_store {
    pthread_mutex_t lock; /* guards both tables and every record's REFS */
    struct table sandboxes, containers;
    json_t *creating; /* name key -> ID of a creation under way (names.c) */
    char *sandbox_dir, *container_dir;
};

char *ctrd_new_id(crimp_error_t *err)
{
    uint8_t raw[32];
    if (crimp_random_bytes(raw, sizeof(raw), err) < 0)
        return NULL;
    char *id = xmalloc(2 * sizeof(raw) + 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        sprintf(id + 2 * i, "%02x", raw[i]);
    return id;
}

ProtobufCMessage *ctrd_pb_clone(const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    cleanup_free uint8_t *buf = xmalloc(len + 1);
    protobuf_c_message_pack(m, buf);
    return protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
}

/* ---- packed protobuf <-> hex ------------------------------------------ */

static json_t *pack_hex(const ProtobufCMessage *m)
{
    if (m == NULL)
        return json_null();
    size_t n = protobuf_c_message_get_packed_size(m);
    cleanup_free uint8_t *buf = xmalloc(n + 1);
    protobuf_c_message_pack(m, buf);
    cleanup_free char *hex = xmalloc(2 * n + 1);
    hex[0] = '\0';
    for (size_t i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", buf[i]);
    return json_string(hex);
}

static ProtobufCMessage *unpack_hex(const ProtobufCMessageDescriptor *d, json_t *v)
{
    const char *hex = json_string_value(v);
    if (hex == NULL)
        return NULL;
    size_t n = strlen(hex) / 2;
    cleanup_free uint8_t *buf = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
            return NULL;
        buf[i] = (uint8_t)byte;
    }
    return protobuf_c_message_unpack(d, NULL, n, buf);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static char *dup_field(json_t *obj, const char *key)
{
    return xstrdup_or_null(json_string_value(json_object_get(obj, key)));
}

/* ---- records ------------------------------------------------------------ */

struct ctrd_sandbox *ctrd_sandbox_new(const char *id)
{
    struct ctrd_sandbox *s = xcalloc(1, sizeof(*s));
    s->refs = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->exited, NULL);
    s->id = xstrdup(id);
    s->ips = json_array();
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    return s;
}

struct ctrd_container *ctrd_container_new(const char *id)
{
    struct ctrd_container *c = xcalloc(1, sizeof(*c));
    c->refs = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->exited, NULL);
    c->id = xstrdup(id);
    c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
    return c;
}

static void sandbox_free(struct ctrd_sandbox *s)
{
    if (s->config)
        protobuf_c_message_free_unpacked(&s->config->base, NULL);
    free(s->id);
    free(s->runtime_handler);
    free(s->netns);
    json_decref(s->ips);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->exited);
    free(s);
}

static void container_free(struct ctrd_container *c)
{
    if (c->config)
        protobuf_c_message_free_unpacked(&c->config->base, NULL);
    free(c->id);
    free(c->sandbox_id);
    free(c->image_id);
    free(c->image_name);
    free(c->reason);
    free(c->message);
    free(c->log_path);
    free(c->fifo_dir);
    if (c->cgroup)
        crimp_cgroup_dirs_release(c->cgroup);
    free(c->cgroup);
    free(c->upper_dir);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->exited);
    free(c);
}

static json_t *sandbox_to_json(struct ctrd_sandbox *s)
{
    return json_pack("{s:o, s:o, s:i, s:I, s:i, s:o, s:O, s:b, s:b}", "config",
                     pack_hex(&s->config->base), "runtime_handler", str_or_null(s->runtime_handler),
                     "state", (int)s->state, "created_at", (json_int_t)s->created_at, "pid", s->pid,
                     "netns", str_or_null(s->netns), "ips", s->ips, "network_down",
                     s->network_down, "task_exited", s->task_exited);
}

static struct ctrd_sandbox *sandbox_from_json(const char *id, json_t *j)
{
    ProtobufCMessage *cfg =
        unpack_hex(&runtime__v1__pod_sandbox_config__descriptor, json_object_get(j, "config"));
    if (cfg == NULL)
        return NULL;
    struct ctrd_sandbox *s = ctrd_sandbox_new(id);
    s->config = (Runtime__V1__PodSandboxConfig *)cfg;
    s->runtime_handler = dup_field(j, "runtime_handler");
    s->state = (Runtime__V1__PodSandboxState)json_integer_value(json_object_get(j, "state"));
    s->created_at = json_integer_value(json_object_get(j, "created_at"));
    s->pid = (int)json_integer_value(json_object_get(j, "pid"));
    s->netns = dup_field(j, "netns");
    if (json_is_array(json_object_get(j, "ips")))
        json_array_extend(s->ips, json_object_get(j, "ips"));
    s->network_down = json_is_true(json_object_get(j, "network_down"));
    s->task_exited = json_is_true(json_object_get(j, "task_exited"));
    return s;
}

static json_t *container_to_json(struct ctrd_container *c)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:i, s:I, s:I, s:I, s:i, s:o, s:o, s:o, s:o, s:i, s:b}",
                     "sandbox_id", c->sandbox_id, "config", pack_hex(&c->config->base), "image_id",
                     str_or_null(c->image_id), "image_name", str_or_null(c->image_name), "state",
                     (int)c->state, "created_at", (json_int_t)c->created_at, "started_at",
                     (json_int_t)c->started_at, "finished_at", (json_int_t)c->finished_at,
                     "exit_code", c->exit_code, "reason", str_or_null(c->reason), "message",
                     str_or_null(c->message), "log_path", str_or_null(c->log_path), "fifo_dir",
                     str_or_null(c->fifo_dir), "pid", c->pid, "kill_sent", c->kill_sent);
}

static struct ctrd_container *container_from_json(const char *id, json_t *j)
{
    ProtobufCMessage *cfg =
        unpack_hex(&runtime__v1__container_config__descriptor, json_object_get(j, "config"));
    const char *sandbox = json_string_value(json_object_get(j, "sandbox_id"));
    if (cfg == NULL || sandbox == NULL) {
        if (cfg)
            protobuf_c_message_free_unpacked(cfg, NULL);
        return NULL;
    }
    struct ctrd_container *c = ctrd_container_new(id);
    c->config = (Runtime__V1__ContainerConfig *)cfg;
    c->sandbox_id = xstrdup(sandbox);
    c->image_id = dup_field(j, "image_id");
    c->image_name = dup_field(j, "image_name");
    c->state = (Runtime__V1__ContainerState)json_integer_value(json_object_get(j, "state"));
    c->created_at = json_integer_value(json_object_get(j, "created_at"));
    c->started_at = json_integer_value(json_object_get(j, "started_at"));
    c->finished_at = json_integer_value(json_object_get(j, "finished_at"));
    c->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
    c->reason = dup_field(j, "reason");
    c->message = dup_field(j, "message");
    c->log_path = dup_field(j, "log_path");
    c->fifo_dir = dup_field(j, "fifo_dir");
    c->pid = (int)json_integer_value(json_object_get(j, "pid"));
    c->kill_sent = json_is_true(json_object_get(j, "kill_sent"));
    c->task_done = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    return c;
}

/* ---- tables ------------------------------------------------------------- */

static void table_add(struct table *t, void *rec)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
    }
    t->v[t->n++] = rec;
}

static void table_remove(struct table *t, void *rec)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i] == rec) {
            t->v[i] = t->v[--t->n];
            return;
        }
}

/* The index of the record whose ID is ID or uniquely starts with it: -1
 * none, -2 ambiguous.  ID_AT gives a record's ID.  */
static long table_find(struct table *t, const char *id, const char *(*id_at)(void *rec))
{
    size_t len = strlen(id);
    long found = -1;
    for (size_t i = 0; i < t->n; i++) {
        const char *rid = id_at(t->v[i]);
        if (strcmp(rid, id) == 0)
            return (long)i;
        if (len > 0 && strncmp(rid, id, len) == 0)
            found = found == -1 ? (long)i : -2;
    }
    return found;
}

static const char *sandbox_id_at(void *rec)
{
    return ((struct ctrd_sandbox *)rec)->id;
}

static const char *container_id_at(void *rec)
{
    return ((struct ctrd_container *)rec)->id;
}

static void *get_ref(struct ctrd_store *st, struct table *t, const char *id,
                     const char *(*id_at)(void *), atomic_int *(*refs_of)(void *), const char *what,
                     crimp_error_t *err)
{
    if (str_empty(id)) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s ID is empty", what);
        return NULL;
    }
    pthread_mutex_lock(&st->lock);
    long i = table_find(t, id, id_at);
    void *rec = i >= 0 ? t->v[i] : NULL;
    if (rec)
        atomic_fetch_add(refs_of(rec), 1);
    pthread_mutex_unlock(&st->lock);
    if (rec == NULL)
        crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                         i == -2 ? "%s ID prefix %s is ambiguous" : "%s %s not found", what, id);
    return rec;
}

static atomic_int *sandbox_refs(void *rec)
{
    return &((struct ctrd_sandbox *)rec)->refs;
}

static atomic_int *container_refs(void *rec)
{
    return &((struct ctrd_container *)rec)->refs;
}

struct ctrd_sandbox *ctrd_sandbox_get(struct ctrd_backend *b, const char *id, crimp_error_t *err)
{
    return get_ref(b->store, &b->store->sandboxes, id, sandbox_id_at, sandbox_refs, "pod sandbox",
                   err);
}

struct ctrd_container *ctrd_container_get(struct ctrd_backend *b, const char *id,
                                          crimp_error_t *err)
{
    return get_ref(b->store, &b->store->containers, id, container_id_at, container_refs,
                   "container", err);
}

static bool unref(atomic_int *refs)
{
    return atomic_fetch_sub(refs, 1) == 1;
}

void ctrd_sandbox_put(struct ctrd_sandbox *s)
{
    if (s && unref(&s->refs))
        sandbox_free(s);
}

void ctrd_container_put(struct ctrd_container *c)
{
    if (c && unref(&c->refs))
        container_free(c);
}

int ctrd_sandbox_save(struct ctrd_backend *b, struct ctrd_sandbox *s, crimp_error_t *err)
{
    json_auto_t *j = sandbox_to_json(s);
    return crimp_checkpoint_write(b->store->sandbox_dir, s->id, j, err);
}

int ctrd_container_save(struct ctrd_backend *b, struct ctrd_container *c, crimp_error_t *err)
{
    json_auto_t *j = container_to_json(c);
    return crimp_checkpoint_write(b->store->container_dir, c->id, j, err);
}

int ctrd_sandbox_add(struct ctrd_backend *b, struct ctrd_sandbox *s, crimp_error_t *err)
{
    pthread_mutex_lock(&s->mu);
    int ret = ctrd_sandbox_save(b, s, err);
    pthread_mutex_unlock(&s->mu);
    if (ret < 0)
        return ret;
    pthread_mutex_lock(&b->store->lock);
    atomic_fetch_add(&s->refs, 1);
    table_add(&b->store->sandboxes, s);
    pthread_mutex_unlock(&b->store->lock);
    return 0;
}

int ctrd_container_add(struct ctrd_backend *b, struct ctrd_container *c, crimp_error_t *err)
{
    pthread_mutex_lock(&c->mu);
    int ret = ctrd_container_save(b, c, err);
    pthread_mutex_unlock(&c->mu);
    if (ret < 0)
        return ret;
    pthread_mutex_lock(&b->store->lock);
    atomic_fetch_add(&c->refs, 1);
    table_add(&b->store->containers, c);
    pthread_mutex_unlock(&b->store->lock);
    return 0;
}

/* The ID of the record (lock held) whose name key is KEY, or NULL.  */
static const char *record_named_locked(struct ctrd_store *st, const char *key)
{
    for (size_t i = 0; i < st->sandboxes.n; i++) {
        struct ctrd_sandbox *s = st->sandboxes.v[i];
        cleanup_free char *k = ctrd_pod_name_key(s->config ? s->config->metadata : NULL);
        if (k && strcmp(k, key) == 0)
            return s->id;
    }
    for (size_t i = 0; i < st->containers.n; i++) {
        struct ctrd_container *c = st->containers.v[i];
        cleanup_free char *k =
            ctrd_container_name_key(c->sandbox_id, c->config ? c->config->metadata : NULL);
        if (k && strcmp(k, key) == 0)
            return c->id;
    }
    return NULL;
}

int ctrd_store_reserve_name(struct ctrd_backend *b, const char *key, const char *id,
                            char **holder)
{
    struct ctrd_store *st = b->store;
    pthread_mutex_lock(&st->lock);
    const char *by = json_string_value(json_object_get(st->creating, key));
    if (by == NULL)
        by = record_named_locked(st, key);
    if (by)
        *holder = xstrdup(by);
    else
        json_object_set_new(st->creating, key, json_string(id));
    pthread_mutex_unlock(&st->lock);
    return by ? -1 : 0;
}

void ctrd_store_release_name(struct ctrd_backend *b, const char *key)
{
    if (key == NULL)
        return;
    pthread_mutex_lock(&b->store->lock);
    json_object_del(b->store->creating, key);
    pthread_mutex_unlock(&b->store->lock);
}

/* Drops the table's reference to REC if it is still in T.  */
static bool forget(struct ctrd_store *st, struct table *t, void *rec, atomic_int *refs)
{
    pthread_mutex_lock(&st->lock);
    size_t before = t->n;
    table_remove(t, rec);
    bool was_in = t->n != before;
    pthread_mutex_unlock(&st->lock);
    return was_in && unref(refs);
}

void ctrd_sandbox_forget(struct ctrd_backend *b, struct ctrd_sandbox *s)
{
    cleanup_error crimp_error_t err = NULL;
    if (crimp_checkpoint_remove(b->store->sandbox_dir, s->id, &err) < 0)
        log_warn("containerd: %s", err->msg);
    if (forget(b->store, &b->store->sandboxes, s, &s->refs))
        sandbox_free(s);
}

void ctrd_container_forget(struct ctrd_backend *b, struct ctrd_container *c)
{
    cleanup_error crimp_error_t err = NULL;
    if (crimp_checkpoint_remove(b->store->container_dir, c->id, &err) < 0)
        log_warn("containerd: %s", err->msg);
    if (forget(b->store, &b->store->containers, c, &c->refs))
        container_free(c);
}

struct ctrd_sandbox **ctrd_sandboxes(struct ctrd_backend *b, size_t *n)
{
    pthread_mutex_lock(&b->store->lock);
    struct ctrd_sandbox **v = xcalloc(b->store->sandboxes.n + 1, sizeof(*v));
    for (*n = 0; *n < b->store->sandboxes.n; (*n)++) {
        v[*n] = b->store->sandboxes.v[*n];
        atomic_fetch_add(&v[*n]->refs, 1);
    }
    pthread_mutex_unlock(&b->store->lock);
    return v;
}

struct ctrd_container **ctrd_containers(struct ctrd_backend *b, const char *sandbox_id, size_t *n)
{
    pthread_mutex_lock(&b->store->lock);
    struct table *t = &b->store->containers;
    struct ctrd_container **v = xcalloc(t->n + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct ctrd_container *c = t->v[i];
        if (sandbox_id && strcmp(c->sandbox_id, sandbox_id) != 0)
            continue;
        atomic_fetch_add(&c->refs, 1);
        v[(*n)++] = c;
    }
    pthread_mutex_unlock(&b->store->lock);
    return v;
}

void ctrd_sandboxes_put_all(struct ctrd_sandbox **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ctrd_sandbox_put(v[i]);
    free(v);
}

void ctrd_containers_put_all(struct ctrd_container **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ctrd_container_put(v[i]);
    free(v);
}

/* ---- load at start ------------------------------------------------------ */

struct load_ctx {
    struct ctrd_backend *b;
    bool sandboxes;
};

static void load_one(void *ctx, const char *id)
{
    struct load_ctx *l = ctx;
    struct ctrd_store *st = l->b->store;
    json_auto_t *data = NULL;
    cleanup_error crimp_error_t err = NULL;
    const char *dir = l->sandboxes ? st->sandbox_dir : st->container_dir;
    if (crimp_checkpoint_read(dir, id, &data, &err) < 0) {
        /* A corrupt file was moved aside; one that could not be read stays
         * for the next start to try again.  */
        log_error("containerd: record %s/%s not loaded: %s", dir, id, err->msg);
        return;
    }
    void *rec = l->sandboxes ? (void *)sandbox_from_json(id, data)
                             : (void *)container_from_json(id, data);
    if (rec == NULL) {
        log_warn("containerd: record %s/%s does not parse", dir, id);
        if (crimp_checkpoint_quarantine(dir, id, &err) < 0)
            log_warn("containerd: %s", err->msg);
        return;
    }
    table_add(l->sandboxes ? &st->sandboxes : &st->containers, rec);
}

int ctrd_store_init(struct ctrd_backend *b, crimp_error_t *err)
{
    struct ctrd_store *st = xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->lock, NULL);
    st->creating = json_object();
    st->sandbox_dir = xasprintf("%s/sandboxes", b->state_dir);
    st->container_dir = xasprintf("%s/containers", b->state_dir);
    b->store = st;
    struct load_ctx sl = {b, true}, cl = {b, false};
    crimp_checkpoint_sweep_temps(st->sandbox_dir);
    crimp_checkpoint_sweep_temps(st->container_dir);
    if (crimp_checkpoint_list(st->sandbox_dir, load_one, &sl, err) < 0 ||
        crimp_checkpoint_list(st->container_dir, load_one, &cl, err) < 0)
        return -1;
    log_info("containerd: %zu pod sandboxes and %zu containers on record", st->sandboxes.n,
             st->containers.n);
    return 0;
}

void ctrd_store_free(struct ctrd_backend *b)
{
    struct ctrd_store *st = b->store;
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->sandboxes.n; i++)
        ctrd_sandbox_put(st->sandboxes.v[i]);
    for (size_t i = 0; i < st->containers.n; i++)
        ctrd_container_put(st->containers.v[i]);
    free(st->sandboxes.v);
    free(st->containers.v);
    json_decref(st->creating);
    free(st->sandbox_dir);
    free(st->container_dir);
    pthread_mutex_destroy(&st->lock);
    free(st);
    b->store = NULL;
}
