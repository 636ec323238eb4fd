/* Crash consistency of the docker backend.
 *
 * Docker itself is the source of truth for what exists (crimp's containers
 * carry the io.crimp.cri label); crimp's checkpoints (one per pod) hold
 * what Docker cannot say: the pod's CNI attachment.  RunPodSandbox makes
 * the pause container, writes the checkpoint marked "pending", starts the
 * pause and runs CNI ADD, then clears "pending".  An intent named after the
 * pause container covers the window before its checkpoint exists.
 *
 * At start, before any CRI call is served, whatever a crimpd killed mid-call
 * left is torn down and logged: pods whose RunPodSandbox never finished
 * (an intent, a pending checkpoint, or a pause container without a
 * checkpoint), checkpoints whose pause container is gone (CNI DEL if still
 * attached), app containers whose pod is gone, and CNI cache entries that
 * no checkpoint explains.  cri-dockerd's containers (adopted: no
 * io.crimp.cri label) are never torn down by this sweep: crimp did not make
 * them, and a node taken over from cri-dockerd keeps its pods running.  */
#include <string.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "utils.h"

static char *intent_dir(struct docker_backend *d)
{
    return xasprintf("%s/intents", d->state_dir);
}

/* One RunPodSandbox per pod name at a time: a twin (kubelet's retry while
 * the first still runs, an operator's second `crictl runp`) is refused here,
 * before it could write over the first one's intent.  Once the intent ends,
 * Docker's own name check refuses twins.  */
int docker_intent_begin(struct docker_backend *d, const char *name, crimp_error_t *err)
{
    pthread_mutex_lock(&d->lock);
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

/* A pod the last crimpd did not finish making, or whose pause container
 * is gone: its network released, its pause container and checkpoint
 * removed.  */
static void discard_pod(struct docker_backend *d, struct inventory *inv, const char *id,
                        json_t *ckpt, const char *why)
{
    log_warn("docker: pod %.12s (%s/%s) %s: tearing it down", id,
             json_string_value(json_object_get(ckpt, "namespace")) ?: "?",
             json_string_value(json_object_get(ckpt, "name")) ?: "?", why);
    /* CNI DEL finds nothing to do when the network was released already.  */
    docker_sandbox_undo(d, id, ckpt);
    json_object_del(inv->sandboxes, id);
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

static void recover_checkpoints(struct docker_backend *d, struct inventory *inv)
{
    json_auto_t *ids = ids_in(d->sandbox_dir);
    size_t i;
    json_t *v;
    json_array_foreach (ids, i, v) {
        const char *id = json_string_value(v);
        json_auto_t *ckpt = NULL;
        cleanup_error crimp_error_t err = NULL;
        if (crimp_checkpoint_read(d->sandbox_dir, id, &ckpt, &err) < 0) {
            log_warn("docker: %s", err->msg);
            continue;
        }
        if (json_is_true(json_object_get(ckpt, "pending")))
            discard_pod(d, inv, id, ckpt, "was half-made when crimpd stopped");
        else if (json_object_get(inv->sandboxes, id) == NULL)
            discard_pod(d, inv, id, ckpt, "has a checkpoint but no pause container");
    }
}

/* Pause containers with no checkpoint: made, and crimpd died before it
 * could write one (the intent names them too).  */
static void recover_unrecorded_pods(struct docker_backend *d, struct inventory *inv)
{
    const char *id;
    json_t *name;
    void *tmp;
    json_object_foreach_safe (inv->sandboxes, tmp, id, name) {
        /* cri-dockerd's pods have no crimp checkpoint until crimp serves
         * them: adopted, never half-made by crimp.  */
        if (json_object_get(inv->adopted, id) != NULL)
            continue;
        cleanup_free char *path = xasprintf("%s/%s", d->sandbox_dir, id);
        if (access(path, F_OK) == 0)
            continue;
        remove_logged(d, id, "a pause container crimp has no checkpoint of (half-made pod)");
        json_object_del(inv->sandboxes, id);
    }
}

static void recover_intents(struct docker_backend *d)
{
    cleanup_free char *dir = intent_dir(d);
    json_auto_t *names = ids_in(dir);
    size_t i;
    json_t *v;
    json_array_foreach (names, i, v) {
        /* Its pause container, if Docker made it, has no checkpoint and
         * goes with the others below.  */
        log_warn("docker: pod %s was half-made when crimpd stopped: tearing it down",
                 json_string_value(v));
        docker_intent_end(d, json_string_value(v));
    }
}

/* App containers whose pod is gone: kubelet would never list the pod to
 * remove them through it.  */
static void recover_orphan_containers(struct docker_backend *d, struct inventory *inv)
{
    const char *id;
    json_t *sb;
    json_object_foreach (inv->containers, id, sb)
        if (json_object_get(inv->adopted, id) == NULL &&
            json_object_get(inv->sandboxes, json_string_value(sb)) == NULL) {
            docker_logs_forget(d->logs, id);
            remove_logged(d, id, "a container whose pod is gone");
        }
}

/* CNI cache entries (<pod id>-<ifname>) of pods crimp has no checkpoint
 * of: the ADD happened (or began) and no DEL will come otherwise.  */
static void recover_cni(struct docker_backend *d)
{
    cleanup_free char *cache = xasprintf("%s/cni-cache", d->state_dir);
    json_auto_t *entries = ids_in(cache);
    size_t i;
    json_t *v;
    json_array_foreach (entries, i, v) {
        cleanup_free char *id = xstrdup(json_string_value(v));
        char *dash = strrchr(id, '-');
        if (dash == NULL)
            continue;
        *dash = '\0';
        cleanup_free char *path = xasprintf("%s/%s", d->sandbox_dir, id);
        if (access(path, F_OK) == 0)
            continue;
        struct cni_attachment a = {.container_id = id, .netns = "", .ifname = dash + 1,
                                   .pod_namespace = "", .pod_name = ""};
        cleanup_error crimp_error_t err = NULL;
        if (cni_del(d->cni, &a, &err) < 0)
            log_warn("docker: CNI DEL of pod %.12s that has no checkpoint: %s", id, err->msg);
        else
            log_warn("docker: CNI DEL of pod %.12s that has no checkpoint", id);
    }
}

int docker_recover(struct docker_backend *d, crimp_error_t *err)
{
    struct inventory inv = {0};
    if (take_inventory(d, &inv, err) < 0)
        return crimp_error_wrap(err, "docker recovery");
    recover_intents(d);
    recover_checkpoints(d, &inv);
    recover_unrecorded_pods(d, &inv);
    recover_orphan_containers(d, &inv);
    recover_cni(d);
    json_decref(inv.sandboxes);
    json_decref(inv.containers);
    json_decref(inv.adopted);
    return 0;
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
        if ((f && !str_empty(f->id) && !has_prefix(id, f->id)) || listed(resp, id) ||
            !docker_pause_gone(d, id))
            continue;
        json_auto_t *ckpt = NULL;
        cleanup_error crimp_error_t err = NULL;
        if (crimp_checkpoint_read(d->sandbox_dir, id, &ckpt, &err) < 0)
            continue; /* removed meanwhile */
        resp->items = xrealloc(resp->items, (resp->n_items + 1) * sizeof(*resp->items));
        resp->items[resp->n_items++] = checkpoint_only_pod(id, ckpt);
    }
}
