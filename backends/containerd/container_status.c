/* ContainerStatus and ListContainers on the containerd backend, from
 * crimp's records (store.c).  */
#include <string.h>

#include "common/oci_spec.h"
#include "common/pod.h"
#include "containerd-internal.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

static Runtime__V1__ImageSpec *image_spec(const char *image)
{
    Runtime__V1__ImageSpec *spec = xmalloc(sizeof(*spec));
    runtime__v1__image_spec__init(spec);
    spec->image = xstrdup(image ? image : "");
    return spec;
}

static Runtime__V1__ContainerStatus *container_status(struct ctrd_container *c)
{
    Runtime__V1__ContainerStatus *st = xmalloc(sizeof(*st));
    runtime__v1__container_status__init(st);
    pthread_mutex_lock(&c->mu);
    const Runtime__V1__ContainerConfig *cfg = c->config;
    st->id = xstrdup(c->id);
    st->metadata = (Runtime__V1__ContainerMetadata *)ctrd_pb_clone(&cfg->metadata->base);
    /* A failed start whose task containerd could not yet be asked about
     * may still run: not "exited" until the reaper knows (stray_task.c).  */
    st->state = c->start_unsettled ? RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN : c->state;
    st->created_at = c->created_at;
    st->started_at = c->started_at;
    st->finished_at = c->finished_at;
    st->exit_code = c->exit_code;
    st->image = image_spec(c->image_name);
    st->image_ref = xstrdup(c->image_id ? c->image_id : "");
    st->image_id = xstrdup(c->image_id ? c->image_id : "");
    st->reason = xstrdup(c->reason ? c->reason : "");
    st->message = xstrdup(c->message ? c->message : "");
    st->labels = crimp_pb_map_copy(&runtime__v1__container_status__labels_entry__descriptor,
                          (void *const *)cfg->labels, cfg->n_labels, &st->n_labels);
    st->annotations = crimp_pb_map_copy(&runtime__v1__container_status__annotations_entry__descriptor,
                               (void *const *)cfg->annotations, cfg->n_annotations,
                               &st->n_annotations);
    st->mounts = xcalloc(cfg->n_mounts + 1, sizeof(*st->mounts));
    for (size_t i = 0; i < cfg->n_mounts; i++)
        st->mounts[st->n_mounts++] = (Runtime__V1__Mount *)ctrd_pb_clone(&cfg->mounts[i]->base);
    st->log_path = xstrdup(c->log_path ? c->log_path : "");
    if (cfg->linux && cfg->linux->resources) {
        st->resources = xmalloc(sizeof(*st->resources));
        runtime__v1__container_resources__init(st->resources);
        st->resources->linux =
            (Runtime__V1__LinuxContainerResources *)ctrd_pb_clone(&cfg->linux->resources->base);
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

char *ctrd_running_container_id(struct ctrd_backend *b, const char *id, crimp_error_t *err)
{
    struct ctrd_container *c = ctrd_container_get(b, id, err);
    if (c == NULL)
        return NULL;
    pthread_mutex_lock(&c->mu);
    bool running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    pthread_mutex_unlock(&c->mu);
    char *full = xstrdup(c->id);
    ctrd_container_put(c);
    if (!running) {
        crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0, "container %.12s is not running",
                         full);
        free(full);
        return NULL;
    }
    return full;
}

int ctrd_container_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__ContainerStatusRequest *req,
                          Runtime__V1__ContainerStatusResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    resp->status = container_status(c);
    if (req->verbose) {
        json_auto_t *info = json_pack("{s:s, s:i, s:s, s:s}", "sandboxID", c->sandbox_id, "pid",
                                      c->pid, "runtime", b->runtime, "snapshotter", b->snapshotter);
        cleanup_free char *text = json_dumps(info, JSON_COMPACT);
        json_auto_t *map = json_pack("{s:s}", "info", text);
        resp->info = crimp_pb_map_from_json(
            &runtime__v1__container_status_response__info_entry__descriptor, map, &resp->n_info);
    }
    ctrd_container_put(c);
    return 0;
}

static bool container_matches(struct ctrd_container *c, const Runtime__V1__ContainerFilter *f)
{
    if (f == NULL)
        return true;
    if (!str_empty(f->id) && !has_prefix(c->id, f->id))
        return false;
    if (f->state && f->state->state != c->state)
        return false;
    if (!str_empty(f->pod_sandbox_id) && !has_prefix(c->sandbox_id, f->pod_sandbox_id))
        return false;
    return crimp_labels_match((void *const *)c->config->labels, c->config->n_labels,
                              (void *const *)f->label_selector, f->n_label_selector);
}

int ctrd_list_containers(struct crimp_backend *self, struct crimp_rpc *rpc,
                         const Runtime__V1__ListContainersRequest *req,
                         Runtime__V1__ListContainersResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    size_t n = 0;
    struct ctrd_container **v = ctrd_containers(b, NULL, &n);
    resp->containers = xcalloc(n + 1, sizeof(*resp->containers));
    for (size_t i = 0; i < n; i++) {
        struct ctrd_container *c = v[i];
        if (!container_matches(c, req->filter))
            continue;
        Runtime__V1__Container *o = xmalloc(sizeof(*o));
        runtime__v1__container__init(o);
        pthread_mutex_lock(&c->mu);
        o->id = xstrdup(c->id);
        o->pod_sandbox_id = xstrdup(c->sandbox_id);
        o->metadata = (Runtime__V1__ContainerMetadata *)ctrd_pb_clone(&c->config->metadata->base);
        o->image = image_spec(c->image_name);
        o->image_ref = xstrdup(c->image_id ? c->image_id : "");
        o->image_id = xstrdup(c->image_id ? c->image_id : "");
        o->state = c->start_unsettled ? RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN : c->state;
        o->created_at = c->created_at;
        o->labels = crimp_pb_map_copy(&runtime__v1__container__labels_entry__descriptor,
                             (void *const *)c->config->labels, c->config->n_labels, &o->n_labels);
        o->annotations = crimp_pb_map_copy(&runtime__v1__container__annotations_entry__descriptor,
                                  (void *const *)c->config->annotations, c->config->n_annotations,
                                  &o->n_annotations);
        pthread_mutex_unlock(&c->mu);
        resp->containers[resp->n_containers++] = o;
    }
    ctrd_containers_put_all(v, n);
    return 0;
}
