/* Crash consistency of the docker backend.
 *
 * Docker itself is the source of truth for what exists (crimp's containers
 * carry the io.crimp.cri label); crimp's checkpoints (one per pod) hold
 * what Docker cannot say: the pod's CNI attachment.  RunPodSandbox makes
 * the pause container, writes the checkpoint marked "pending", starts the
 * pause and runs CNI ADD, then clears "pending".  An intent named after the
 * pause container covers the window before its checkpoint exists.
 *
 * At start, before any CRI call is served, what a crimpd killed mid-call
 * left is listed; it is torn down and logged on a thread of its own while
 * crimpd serves (the half-made pods' names and IDs held back meanwhile): pods whose RunPodSandbox never finished
 * (an intent, a pending checkpoint, or a pause container without a
 * checkpoint), checkpoints whose pause container is gone (CNI DEL if still
 * attached), app containers whose pod is gone, and CNI cache entries that
 * no checkpoint explains.  cri-dockerd's containers (adopted: no
 * io.crimp.cri label) are never torn down by this sweep: crimp did not make
 * them, and a node taken over from cri-dockerd keeps its pods running.  */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "deadline.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "utils.h"

static char *intent_dir(struct docker_backend *d)
{
    return xasprintf("%s/intents", d->state_dir);
}

/* Waits (D's lock held) while NAME is a half-made pod the sweep at start
 * is still tearing down: kubelet's retry of a RunPodSandbox the killed
 * crimpd never answered goes ahead once the old pause container is gone,
 * rather than colliding with it in Docker.  Bounded by the call's budget.  */
static bool wait_for_sweep_of(struct docker_backend *d, const char *name)
{
    long ms = crimp_budget_timeout_ms(-1, 60000);
    if (ms < 0)
        ms = 60000;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (strcmp(json_string_value(json_object_get(d->making, name)) ?: "", "recovery") == 0)
        if (pthread_cond_timedwait(&d->released, &d->lock, &until) == ETIMEDOUT)
            return false;
    return true;
}

/* One RunPodSandbox per pod name at a time: a twin (kubelet's retry while
 * the first still runs, an operator's second `crictl runp`) is refused here,
 * before it could write over the first one's intent.  Once the intent ends,
 * Docker's own name check refuses twins.  */
int docker_intent_begin(struct docker_backend *d, const char *name, crimp_error_t *err)
{
    pthread_mutex_lock(&d->lock);
    if (!wait_for_sweep_of(d, name)) {
        pthread_mutex_unlock(&d->lock);
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0,
                                "pod sandbox name %s is still held by a half-made pod that "
                                "crimpd is tearing down since its restart", name);
    }
    bool busy = json_object_get(d->making, name) != NULL;
    if (!busy)
        json_object_set_new(d->making, name, json_true());
    pthread_mutex_unlock(&d->lock);
    if (busy)
        return crimp_make_error(err, GRPC_STATUS_ALREADY_EXISTS, 0,
                                "pod sandbox name %s is in use by a RunPodSandbox still running",
                                name);
    cleanup_free char *dir = intent_dir(d);
    json_auto_t *j = json_pack("{s:s}", "name", name);
    if (crimp_checkpoint_write(dir, name, j, err) < 0) {
        docker_intent_end(d, name);
        return crimp_error_wrap(err, "intent of pod %s", name);
    }
    return 0;
}

void docker_intent_end(struct docker_backend *d, const char *name)
{
    cleanup_free char *dir = intent_dir(d);
    cleanup_error crimp_error_t err = NULL;
    if (crimp_checkpoint_remove(dir, name, &err) < 0)
        log_warn("docker: %s", err->msg);
    pthread_mutex_lock(&d->lock);
    json_object_del(d->making, name);
    pthread_mutex_unlock(&d->lock);
}

/* What exists: pause containers by ID (with their Docker name) and app
 * containers, as listed once at the start of the recovery.  */
struct inventory {
    json_t *sandboxes;  /* id → name */
    json_t *containers; /* id → sandbox id */
    json_t *adopted;    /* ids of cri-dockerd's (not crimp's): never swept */
};

static bool made_by_crimp(json_t *entry)
{
    return json_object_get(json_object_get(entry, "Labels"), DOCKER_LABEL_CRI) != NULL;
}

static const char *first_name(json_t *entry)
{
    const char *n = json_string_value(json_array_get(json_object_get(entry, "Names"), 0));
    return n && n[0] == '/' ? n + 1 : n;
}

static int take_inventory(struct docker_backend *d, struct inventory *inv, crimp_error_t *err)
{
    json_t *pods = NULL, *ctrs = NULL;
    if (docker_list(d, DOCKER_TYPE_SANDBOX, NULL, &pods, err) < 0)
        return -1;
    if (docker_list(d, DOCKER_TYPE_CONTAINER, NULL, &ctrs, err) < 0) {
        json_decref(pods);
        return -1;
    }
    inv->sandboxes = json_object();
    inv->containers = json_object();
    inv->adopted = json_object();
    size_t i;
    json_t *e;
    json_array_foreach (pods, i, e) {
        const char *id = json_string_value(json_object_get(e, "Id")) ?: "";
        json_object_set_new(inv->sandboxes, id, json_string(first_name(e) ?: ""));
        if (!made_by_crimp(e))
            json_object_set_new(inv->adopted, id, json_true());
    }
    json_array_foreach (ctrs, i, e) {
        const char *id = json_string_value(json_object_get(e, "Id")) ?: "";
        const char *sb = json_string_value(
            json_object_get(json_object_get(e, "Labels"), DOCKER_LABEL_SANDBOX_ID));
        json_object_set_new(inv->containers, id, json_string(sb ?: ""));
        if (!made_by_crimp(e))
            json_object_set_new(inv->adopted, id, json_true());
    }
    json_decref(pods);
    json_decref(ctrs);
    return 0;
}

static void remove_logged(struct docker_backend *d, const char *id, const char *why)
{
    cleanup_error crimp_error_t err = NULL;
    if (docker_force_remove(d, id, &err) < 0)
        log_warn("docker: removing %.12s (%s): %s", id, why, err->msg);
    else
        log_warn("docker: removed %.12s: %s", id, why);
}

static void collect_id(void *ctx, const char *id)
{
    json_array_append_new(ctx, json_string(id));
}

/* The names in DIR (checkpoint files), as a new array.  */
static json_t *ids_in(const char *dir)
{
    json_t *ids = json_array();
    cleanup_error crimp_error_t err = NULL;
    if (crimp_checkpoint_list(dir, collect_id, ids, &err) < 0)
        log_warn("docker: %s", err->msg);
    return ids;
}

/* The same at start, before anything writes to DIR: what a write cut
 * short by the crash left (".NAME.tmp") goes first.  */
static json_t *ids_at_start(const char *dir)
{
    crimp_checkpoint_sweep_temps(dir);
    return ids_in(dir);
}

/* What the sweep tears down, decided before the socket serves: a call
 * served meanwhile makes new objects the plan does not name, so the sweep
 * never takes them for leftovers.  */
struct docker_sweep {
    struct docker_backend *d;
    json_t *pods;       /* [{id, name?, ckpt?, why}]: half-made or without a pause */
    json_t *intents;    /* names of the intents left */
    json_t *containers; /* app containers whose pod is gone */
    json_t *cni;        /* CNI cache entries with no checkpoint */
    int64_t planned_ns; /* when Docker's containers were listed */
    atomic_bool stop;   /* the backend closes: leave the rest to the next start */
    pthread_t thread;
};

/* Its Docker name and ID kept from a RunPodSandbox retry and from the
 * lists until the sweep has torn it down.  */
static void plan_pod(struct docker_sweep *s, struct inventory *inv, const char *id, json_t *ckpt,
                     const char *why)
{
    const char *name = json_string_value(json_object_get(inv->sandboxes, id));
    json_array_append_new(s->pods, json_pack("{s:s, s:s?, s:O?, s:s}", "id", id, "name", name,
                                             "ckpt", ckpt, "why", why));
    struct docker_backend *d = s->d;
    pthread_mutex_lock(&d->lock);
    json_object_set_new(d->discarding, id, json_true());
    if (!str_empty(name))
        json_object_set_new(d->making, name, json_string("recovery"));
    pthread_mutex_unlock(&d->lock);
    json_object_del(inv->sandboxes, id);
}

static void plan_checkpoints(struct docker_sweep *s, struct inventory *inv)
{
    json_auto_t *ids = ids_at_start(s->d->sandbox_dir);
    size_t i;
    json_t *v;
    json_array_foreach (ids, i, v) {
        const char *id = json_string_value(v);
        json_auto_t *ckpt = NULL;
        cleanup_error crimp_error_t err = NULL;
        if (crimp_checkpoint_read(s->d->sandbox_dir, id, &ckpt, &err) < 0) {
            log_warn("docker: %s", err->msg);
            continue;
        }
        if (json_is_true(json_object_get(ckpt, "pending")))
            plan_pod(s, inv, id, ckpt, "was half-made when crimpd stopped");
        else if (json_object_get(inv->sandboxes, id) == NULL)
            plan_pod(s, inv, id, ckpt, "has a checkpoint but no pause container");
    }
}

/* Pause containers with no checkpoint: made, and crimpd died before it
 * could write one (the intent names them too).  */
static void plan_unrecorded_pods(struct docker_sweep *s, struct inventory *inv)
{
    const char *id;
    json_t *name;
    void *tmp;
    json_object_foreach_safe (inv->sandboxes, tmp, id, name) {
        /* cri-dockerd's pods have no crimp checkpoint until crimp serves
         * them: adopted, never half-made by crimp.  */
        if (json_object_get(inv->adopted, id) != NULL)
            continue;
        cleanup_free char *path = xasprintf("%s/%s", s->d->sandbox_dir, id);
        if (access(path, F_OK) != 0)
            plan_pod(s, inv, id, NULL, "is a pause container crimp has no checkpoint of");
    }
}

/* Intents left: their pause container, if Docker made it, has no
 * checkpoint and is planned above; the names stay reserved until then.  */
static void plan_intents(struct docker_sweep *s)
{
    cleanup_free char *dir = intent_dir(s->d);
    s->intents = ids_at_start(dir);
    size_t i;
    json_t *v;
    pthread_mutex_lock(&s->d->lock);
    json_array_foreach (s->intents, i, v)
        json_object_set_new(s->d->making, json_string_value(v), json_string("recovery"));
    pthread_mutex_unlock(&s->d->lock);
}

/* App containers whose pod is gone: kubelet would never list the pod to
 * remove them through it.  */
static void plan_orphan_containers(struct docker_sweep *s, struct inventory *inv)
{
    const char *id;
    json_t *sb;
    json_object_foreach (inv->containers, id, sb)
        if (json_object_get(inv->adopted, id) == NULL &&
            json_object_get(inv->sandboxes, json_string_value(sb)) == NULL)
            json_array_append_new(s->containers, json_string(id));
}

/* CNI cache entries (<pod id>-<ifname>) of pods crimp has no checkpoint
 * of: the ADD happened (or began) and no DEL will come otherwise.  A pod
 * made after this writes its checkpoint before its cache entry.  */
static void plan_cni(struct docker_sweep *s)
{
    cleanup_free char *cache = xasprintf("%s/cni-cache", s->d->state_dir);
    json_auto_t *entries = ids_at_start(cache);
    size_t i;
    json_t *v;
    json_array_foreach (entries, i, v) {
        cleanup_free char *id = xstrdup(json_string_value(v));
        char *dash = strrchr(id, '-');
        if (dash == NULL)
            continue;
        *dash = '\0';
        cleanup_free char *path = xasprintf("%s/%s", s->d->sandbox_dir, id);
        if (access(path, F_OK) != 0)
            json_array_append(s->cni, v);
    }
}

static void release_name(struct docker_backend *d, const char *name)
{
    pthread_mutex_lock(&d->lock);
    if (strcmp(json_string_value(json_object_get(d->making, name)) ?: "", "recovery") == 0)
        json_object_del(d->making, name);
    pthread_cond_broadcast(&d->released);
    pthread_mutex_unlock(&d->lock);
}

/* A pod the last crimpd did not finish making, or whose pause container
 * is gone: its network released (CNI DEL finds nothing to do when it was
 * released already), its pause container and checkpoint removed.  Force
 * removal kills the pause at once: no workload kubelet knows of ran in it.  */
static bool has_intent(struct docker_sweep *s, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach (s->intents, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

static void discard_pod(struct docker_sweep *s, json_t *pod)
{
    struct docker_backend *d = s->d;
    const char *id = json_string_value(json_object_get(pod, "id"));
    const char *name = json_string_value(json_object_get(pod, "name"));
    json_t *ckpt = json_object_get(pod, "ckpt");
    const char *why = json_string_value(json_object_get(pod, "why"));
    if (json_is_object(ckpt)) {
        log_warn("docker: pod %.12s (%s/%s) %s: tearing it down", id,
                 json_string_value(json_object_get(ckpt, "namespace")) ?: "?",
                 json_string_value(json_object_get(ckpt, "name")) ?: "?", why);
        docker_sandbox_undo(d, id, ckpt);
    } else {
        remove_logged(d, id, "a pause container crimp has no checkpoint of (half-made pod)");
    }
    pthread_mutex_lock(&d->lock);
    json_object_del(d->discarding, id);
    pthread_mutex_unlock(&d->lock);
    /* A name an intent holds is released when the intent ends: Docker
     * may still make a container of that name (end_intent).  */
    if (!str_empty(name) && !has_intent(s, name))
        release_name(d, name);
}

static void cni_del_unrecorded(struct docker_backend *d, const char *entry)
{
    cleanup_free char *id = xstrdup(entry);
    char *dash = strrchr(id, '-');
    *dash = '\0';
    struct cni_attachment a = {.container_id = id, .netns = "", .ifname = dash + 1,
                               .pod_namespace = "", .pod_name = ""};
    cleanup_error crimp_error_t err = NULL;
    if (cni_del(d->cni, &a, &err) < 0)
        log_warn("docker: CNI DEL of pod %.12s that has no checkpoint: %s", id, err->msg);
    else
        log_warn("docker: CNI DEL of pod %.12s that has no checkpoint", id);
}

/* dockerd finishes a create the killed crimpd had sent even after the
 * plan listed its containers: an intent's pause container is looked for
 * again by name this long after the plan.  */
#define LATE_CREATE_NS (5 * 1000000000LL)

static void sleep_until(struct docker_sweep *s, int64_t when_ns)
{
    while (!atomic_load(&s->stop) && crimp_now_mono_ns() < when_ns)
        usleep(50 * 1000);
}

/* The pause container an intent names, made late: removed by its name.  */
static void end_intent(struct docker_backend *d, const char *name)
{
    struct docker_request r = {.method = "DELETE", .path = "/containers/{id}", .id = name,
                               .query = "v=1&force=1"};
    cleanup_error crimp_error_t err = NULL;
    if (docker_do(d->client, &r, NULL, &err) == 0)
        log_warn("docker: removed %s: a pause container Docker made after crimpd died", name);
    else if (err->code != GRPC_STATUS_NOT_FOUND) {
        log_warn("docker: removing %s (half-made pod): %s; left to the next start", name,
                 err->msg);
        return; /* the intent stays: the next start tries again */
    }
    log_warn("docker: pod %s was half-made when crimpd stopped: torn down", name);
    docker_intent_end(d, name);
}

/* Intents end last: until the pause container they name is gone, the
 * next start must still find it (a crash during the sweep).  */
static void run_sweep(struct docker_sweep *s, int64_t planned_ns)
{
    struct docker_backend *d = s->d;
    size_t i;
    json_t *v;
    json_array_foreach (s->pods, i, v)
        if (!atomic_load(&s->stop))
            discard_pod(s, v);
    if (json_array_size(s->intents) > 0)
        sleep_until(s, planned_ns + LATE_CREATE_NS);
    json_array_foreach (s->intents, i, v)
        if (!atomic_load(&s->stop))
            end_intent(d, json_string_value(v));
    json_array_foreach (s->containers, i, v)
        if (!atomic_load(&s->stop)) {
            docker_logs_forget(d->logs, json_string_value(v));
            remove_logged(d, json_string_value(v), "a container whose pod is gone");
        }
    json_array_foreach (s->cni, i, v)
        if (!atomic_load(&s->stop))
            cni_del_unrecorded(d, json_string_value(v));
}

/* The sweep's own budget: the teardown may stop and remove several
 * containers; no CRI call waits for it.  */
#define SWEEP_NS (120 * 1000000000LL)

static void *sweep_main(void *arg)
{
    struct docker_sweep *s = arg;
    struct crimp_budget b = {.deadline_ns = crimp_now_mono_ns() + SWEEP_NS};
    crimp_budget_set_current(&b);
    int64_t began = crimp_now_mono_ns();
    run_sweep(s, s->planned_ns);
    log_info("docker: recovery sweep done in %.1f s (%zu pods, %zu containers, %zu CNI entries)",
             (double)(crimp_now_mono_ns() - began) / 1e9, json_array_size(s->pods),
             json_array_size(s->containers), json_array_size(s->cni));
    /* Whatever was left (the backend closing) is planned again at the
     * next start: its records are still on disk.  */
    struct docker_backend *d = s->d;
    pthread_mutex_lock(&d->lock);
    const char *name;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (d->making, tmp, name, v)
        if (strcmp(json_string_value(v) ?: "", "recovery") == 0)
            json_object_del(d->making, name);
    json_object_clear(d->discarding);
    pthread_cond_broadcast(&d->released);
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static void sweep_free(struct docker_sweep *s)
{
    json_decref(s->pods);
    json_decref(s->intents);
    json_decref(s->containers);
    json_decref(s->cni);
    free(s);
}

int docker_recover(struct docker_backend *d, crimp_error_t *err)
{
    struct inventory inv = {0};
    int64_t planned_ns = crimp_now_mono_ns();
    if (take_inventory(d, &inv, err) < 0)
        return crimp_error_wrap(err, "docker recovery");
    struct docker_sweep *s = xcalloc(1, sizeof(*s));
    s->d = d;
    s->planned_ns = planned_ns;
    s->pods = json_array();
    s->containers = json_array();
    s->cni = json_array();
    plan_intents(s);
    plan_checkpoints(s, &inv);
    plan_unrecorded_pods(s, &inv);
    plan_orphan_containers(s, &inv);
    plan_cni(s);
    json_decref(inv.sandboxes);
    json_decref(inv.containers);
    json_decref(inv.adopted);
    if (json_array_size(s->pods) + json_array_size(s->intents) + json_array_size(s->containers) +
            json_array_size(s->cni) == 0) {
        sweep_free(s);
        return 0;
    }
    if (pthread_create(&s->thread, NULL, sweep_main, s) != 0) {
        sweep_main(s); /* no thread: before serving, as it must be done */
        sweep_free(s);
        return 0;
    }
    pthread_setname_np(s->thread, "crimp-recover");
    d->sweep = s;
    return 0;
}

int docker_recover_deferred(struct docker_backend *d, crimp_error_t *err)
{
    if (!atomic_load(&d->recovery_pending))
        return 0;
    pthread_mutex_lock(&d->recover_lock);
    int rc = 0;
    if (atomic_load(&d->recovery_pending)) {
        /* The thread's budget is a copy: kept by value to put it back.  */
        const struct crimp_budget *cur = crimp_budget_current();
        struct crimp_budget outer = cur ? *cur : (struct crimp_budget){0};
        struct crimp_budget plan = {.deadline_ns = crimp_now_mono_ns() + DOCKER_RECOVER_PLAN_NS,
                                    .cancelled = outer.cancelled};
        if (cur && outer.deadline_ns < plan.deadline_ns)
            plan.deadline_ns = outer.deadline_ns;
        crimp_budget_set_current(&plan);
        rc = docker_recover(d, err);
        crimp_budget_set_current(cur ? &outer : NULL);
        if (rc == 0) {
            atomic_store(&d->recovery_pending, false);
            log_info("docker: dockerd answers: the recovery put off at start has run");
        } else {
            (*err)->code = GRPC_STATUS_UNAVAILABLE;
            crimp_error_wrap(err, "dockerd did not answer at start and still does not; no "
                                  "pod is made before the recovery of what a killed crimpd "
                                  "left has run");
        }
    }
    pthread_mutex_unlock(&d->recover_lock);
    return rc;
}

void docker_recover_join(struct docker_backend *d)
{
    /* No deferred run starts once the backend closes.  */
    pthread_mutex_lock(&d->recover_lock);
    atomic_store(&d->recovery_pending, false);
    struct docker_sweep *s = d->sweep;
    d->sweep = NULL;
    pthread_mutex_unlock(&d->recover_lock);
    if (s == NULL)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    sweep_free(s);
}

bool docker_discarding(struct docker_backend *d, const char *id)
{
    pthread_mutex_lock(&d->lock);
    bool r = json_object_get(d->discarding, id) != NULL;
    pthread_mutex_unlock(&d->lock);
    return r;
}

void docker_hide_discarding(struct docker_backend *d, Runtime__V1__ListPodSandboxResponse *resp)
{
    size_t kept = 0;
    for (size_t i = 0; i < resp->n_items; i++) {
        if (docker_discarding(d, resp->items[i]->id))
            runtime__v1__pod_sandbox__free_unpacked(resp->items[i], NULL);
        else
            resp->items[kept++] = resp->items[i];
    }
    resp->n_items = kept;
}

static bool listed(const Runtime__V1__ListPodSandboxResponse *resp, const char *id)
{
    for (size_t i = 0; i < resp->n_items; i++)
        if (strcmp(resp->items[i]->id, id) == 0)
            return true;
    return false;
}

bool docker_pause_gone(struct docker_backend *d, const char *id)
{
    json_auto_t *inspect = NULL;
    cleanup_error crimp_error_t err = NULL;
    if (docker_inspect(d, id, &inspect, &err) == 0) {
        /* There after all: the lists come from the inventory, which may
         * not have had this container's event yet.  */
        docker_inventory_touch(d->inventory, id);
        return false;
    }
    return err->code == GRPC_STATUS_NOT_FOUND;
}

static Runtime__V1__PodSandbox *checkpoint_only_pod(const char *id, json_t *ckpt)
{
    Runtime__V1__PodSandbox *p = xmalloc(sizeof(*p));
    runtime__v1__pod_sandbox__init(p);
    p->id = xstrdup(id);
    p->metadata = xmalloc(sizeof(*p->metadata));
    runtime__v1__pod_sandbox_metadata__init(p->metadata);
    p->metadata->name = xstrdup(json_string_value(json_object_get(ckpt, "name")) ?: "");
    p->metadata->uid = xstrdup(json_string_value(json_object_get(ckpt, "uid")) ?: "");
    p->metadata->namespace_ = xstrdup(json_string_value(json_object_get(ckpt, "namespace")) ?: "");
    p->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    p->runtime_handler = xstrdup("");
    return p;
}

json_t *docker_checkpoint_ids(struct docker_backend *d)
{
    return ids_in(d->sandbox_dir);
}

void docker_list_checkpoint_only(struct docker_backend *d, json_t *ids,
                                 const Runtime__V1__PodSandboxFilter *f,
                                 Runtime__V1__ListPodSandboxResponse *resp)
{
    /* Their labels are gone with the container: no selector matches them.  */
    if (f && ((f->state && f->state->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY) ||
              f->n_label_selector > 0))
        return;
    size_t i;
    json_t *v;
    json_array_foreach (ids, i, v) {
        const char *id = json_string_value(v);
        /* A half-made pod being torn down is not inspected: Docker holds
         * its container while removing it.  */
        if ((f && !str_empty(f->id) && !has_prefix(id, f->id)) || listed(resp, id) ||
            docker_discarding(d, id) || !docker_pause_gone(d, id))
            continue;
        json_auto_t *ckpt = NULL;
        cleanup_error crimp_error_t err = NULL;
        if (crimp_checkpoint_read(d->sandbox_dir, id, &ckpt, &err) < 0)
            continue; /* removed meanwhile */
        resp->items = xrealloc(resp->items, (resp->n_items + 1) * sizeof(*resp->items));
        resp->items[resp->n_items++] = checkpoint_only_pod(id, ckpt);
    }
}
