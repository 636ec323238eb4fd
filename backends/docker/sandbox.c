/* Pod sandboxes on Docker (Run, Stop, Remove; status and list are in
 * sandbox_status.c): a pause container holding the namespaces, CNI
 * networking into its netns, and a checkpoint per pod that remembers what
 * Stop and Remove need after the pause container or crimpd went away.
 *
 * Checkpoint data: {"name", "namespace", "uid", "host_network",
 * "port_mappings" (CNI form), "ips", "network_torn_down"}.  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/pod.h"
#include "cri_dockerd.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define SANDBOX_STOP_SECONDS 10

int docker_force_remove(struct docker_backend *d, const char *id, crimp_error_t *err)
{
    struct docker_request r = {.method = "DELETE", .path = "/containers/{id}", .id = id,
                               .query = "v=1&force=1"};
    cleanup_error crimp_error_t rerr = NULL;
    int rc = docker_do(d->client, &r, NULL, &rerr);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0 && rerr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&rerr);
        return -1;
    }
    return 0;
}

static int stop_container_now(struct docker_backend *d, const char *id, int seconds,
                              crimp_error_t *err)
{
    cleanup_free char *q = xasprintf("t=%d", seconds);
    struct docker_request r = {.method = "POST", .path = "/containers/{id}/stop", .id = id,
                               .query = q, .timeout_ms = (seconds + 120) * 1000L};
    cleanup_error crimp_error_t serr = NULL;
    int rc = docker_do(d->client, &r, NULL, &serr);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0 && serr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&serr);
        return -1;
    }
    return 0;
}

static struct cni_attachment attachment(const char *id, json_t *ckpt, const char *netns)
{
    return cni_pod_attachment(id, netns, json_string_value(json_object_get(ckpt, "namespace")),
                              json_string_value(json_object_get(ckpt, "name")),
                              json_object_get(ckpt, "port_mappings"));
}

/* CNI ADD into the running pause container ID; records the IPs.  */
static int setup_network(struct docker_backend *d, const char *id, json_t *inspect, json_t *ckpt,
                         crimp_error_t *err)
{
    json_int_t pid = json_integer_value(json_object_get(json_object_get(inspect, "State"), "Pid"));
    if (pid <= 0)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0,
                                "pause container %.12s has no process", id);
    char netns[64];
    snprintf(netns, sizeof(netns), "/proc/%lld/ns/net", (long long)pid);
    struct cni_attachment a = attachment(id, ckpt, netns);
    json_auto_t *result = NULL;
    if (cni_add(d->cni, &a, &result, err) < 0)
        return -1;
    char *ips[8];
    size_t n = cni_result_ips(result, ips, 8);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(ips[i]));
        free(ips[i]);
    }
    json_object_set_new(ckpt, "ips", arr);
    return 0;
}

void docker_sandbox_undo(struct docker_backend *d, const char *id, json_t *ckpt)
{
    crimp_error_t e = NULL;
    struct cni_attachment a = attachment(id, ckpt, "");
    if (cni_del(d->cni, &a, &e) < 0)
        log_warn("docker: undo sandbox %.12s: %s", id, e->msg);
    crimp_error_release(&e);
    if (docker_force_remove(d, id, &e) < 0)
        log_warn("docker: undo sandbox %.12s: %s", id, e->msg);
    crimp_error_release(&e);
    crimp_checkpoint_remove(d->sandbox_dir, id, NULL);
    cri_dockerd_checkpoint_remove(d, id);
}

static int start_sandbox(struct docker_backend *d, const char *id,
                         const Runtime__V1__PodSandboxConfig *cfg, json_t *ckpt,
                         crimp_error_t *err)
{
    int rc = docker_post(d->client, "/containers/{id}/start", id, NULL, NULL, NULL, err);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0)
        return -1;
    json_auto_t *inspect = NULL;
    if (docker_inspect(d, id, &inspect, err) < 0)
        return -1;
    const char *resolv = json_string_value(json_object_get(inspect, "ResolvConfPath"));
    if (!str_empty(resolv) && crimp_pod_write_resolv_conf(resolv, cfg->dns_config, err) < 0)
        return -1;
    if (json_is_true(json_object_get(ckpt, "host_network")))
        return 0;
    return setup_network(d, id, inspect, ckpt, err);
}

int docker_run_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__RunPodSandboxRequest *req,
                           Runtime__V1__RunPodSandboxResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    const Runtime__V1__PodSandboxConfig *cfg = req->config;
    if (!str_empty(req->runtime_handler) && strcmp(req->runtime_handler, "docker") != 0 &&
        strcmp(req->runtime_handler, "runc") != 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "runtime handler `%s` is not served by the docker backend",
                                req->runtime_handler);
    if (!crimp_pod_host_network(cfg) && !cni_runner_ready(d->cni, NULL))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "the pod network is not ready: no CNI config");
    if (docker_recover_deferred(d, err) < 0)
        return -1;
    json_auto_t *body = docker_sandbox_spec(cfg, &d->spec, err);
    if (body == NULL)
        return -1;
    if (docker_ensure_image(d, rpc, d->pause_image, err) < 0)
        return crimp_error_wrap(err, "pause image");
    cleanup_free char *name = docker_sandbox_name(cfg->metadata);
    cleanup_free char *id = NULL;
    /* The intent names the pause container before it exists: a crash
     * before its checkpoint is written still leaves something that says
     * it is half-made (recover.c).  */
    if (docker_intent_begin(d, name, err) < 0)
        return -1;
    if (docker_create(d, name, body, &id, err) < 0) {
        docker_intent_end(d, name);
        return -1;
    }
    /* Written before start: Stop and Remove must find the pod whatever
     * happens from here on; "pending" until RunPodSandbox is done, so that
     * a crimpd that dies in between tears it down at its next start.  */
    json_auto_t *ckpt = json_pack("{s:s, s:s, s:s, s:b, s:o, s:[], s:b, s:b}", "name",
                                  cfg->metadata->name, "namespace", cfg->metadata->namespace_,
                                  "uid", cfg->metadata->uid, "host_network",
                                  crimp_pod_host_network(cfg), "port_mappings", crimp_pod_port_mappings(cfg),
                                  "ips", "network_torn_down", 0, "pending", 1);
    int ret = crimp_checkpoint_write(d->sandbox_dir, id, ckpt, err);
    docker_intent_end(d, name); /* the checkpoint says it from here on */
    if (ret == 0)
        ret = cri_dockerd_checkpoint_write(d, id, cfg, err);
    if (ret == 0)
        ret = start_sandbox(d, id, cfg, ckpt, err);
    if (ret == 0) {
        json_object_del(ckpt, "pending");
        ret = crimp_checkpoint_write(d->sandbox_dir, id, ckpt, err);
    }
    if (ret < 0) {
        docker_sandbox_undo(d, id, ckpt);
        return crimp_error_wrap(err, "run pod sandbox %s", name);
    }
    resp->pod_sandbox_id = steal_ptr(&id);
    return 0;
}

/* A checkpoint rebuilt from the pause container's labels when crimp's own
 * is gone (its state dir was lost, or another crimpd made the pod), so that
 * Stop still runs CNI DEL and the pod's address is freed.  The port
 * mappings are not known any more.  */
static json_t *checkpoint_from_inspect(json_t *inspect)
{
    struct docker_cri_meta meta;
    cleanup_error crimp_error_t err = NULL;
    if (docker_meta_of_inspect(inspect, true, &meta, &err) < 0)
        return NULL;
    const char *net = json_string_value(
        json_object_get(json_object_get(inspect, "HostConfig"), "NetworkMode")) ?: "";
    json_t *ckpt = json_pack("{s:s?, s:s?, s:s?, s:b}", "name", meta.name, "namespace",
                             meta.namespace_, "uid", meta.uid, "host_network",
                             strcmp(net, "host") == 0);
    docker_cri_meta_free(&meta);
    return ckpt;
}

/* Sandbox ID's checkpoint: 0 with *CKPT (NULL when there is none, or it
 * was corrupt and is now set aside), -1 when it is there but cannot be
 * read now (EMFILE, EIO…): not a reason to act as if it were gone.  */
static int read_checkpoint(struct docker_backend *d, const char *id, json_t **ckpt,
                           crimp_error_t *err)
{
    cleanup_error crimp_error_t e = NULL;
    *ckpt = NULL;
    if (crimp_checkpoint_read(d->sandbox_dir, id, ckpt, &e) == 0 ||
        e->code == GRPC_STATUS_NOT_FOUND)
        return 0;
    if (e->code == GRPC_STATUS_DATA_LOSS) {
        log_warn("docker: sandbox %.12s: %s", id, e->msg);
        return 0;
    }
    *err = steal_ptr(&e);
    return -1;
}

/* The checkpoint of sandbox ID (full): crimp's own; else one made and kept
 * from what cri-dockerd left, or rebuilt from the pause container's labels
 * (INSPECT, may be NULL) when crimp's state was lost.  */
int docker_sandbox_checkpoint(struct docker_backend *d, const char *id, json_t *inspect,
                              json_t **ckpt, crimp_error_t *err)
{
    if (read_checkpoint(d, id, ckpt, err) < 0)
        return -1;
    if (*ckpt != NULL)
        return 0;
    *ckpt = cri_dockerd_adopt_checkpoint(d, id, inspect);
    if (*ckpt == NULL && inspect != NULL)
        *ckpt = checkpoint_from_inspect(inspect);
    crimp_error_t e = NULL;
    if (*ckpt && crimp_checkpoint_write(d->sandbox_dir, id, *ckpt, &e) < 0) {
        log_warn("docker: sandbox %.12s: %s", id, e->msg);
        crimp_error_release(&e);
    }
    return 0;
}

/* CNI DEL once per sandbox: the flag in the checkpoint says it is done.  */
static int teardown_network(struct docker_backend *d, const char *id, json_t *inspect,
                            json_t *ckpt, crimp_error_t *err)
{
    if (ckpt == NULL || json_is_true(json_object_get(ckpt, "host_network")) ||
        json_is_true(json_object_get(ckpt, "network_torn_down")))
        return 0;
    json_t *state = json_object_get(inspect, "State");
    json_int_t pid = json_is_true(json_object_get(state, "Running")) ?
                         json_integer_value(json_object_get(state, "Pid")) : 0;
    char netns[64] = "";
    if (pid > 0)
        snprintf(netns, sizeof(netns), "/proc/%lld/ns/net", (long long)pid);
    struct cni_attachment a = attachment(id, ckpt, netns);
    if (cni_del(d->cni, &a, err) < 0)
        return -1;
    json_object_set_new(ckpt, "network_torn_down", json_true());
    return crimp_checkpoint_write(d->sandbox_dir, id, ckpt, err);
}

/* Stops (or with REMOVE removes) every container of the pod.  */
static int for_pod_containers(struct docker_backend *d, const char *sandbox_id, bool remove,
                              crimp_error_t *err)
{
    cleanup_free char *label = xasprintf("%s=%s", DOCKER_LABEL_SANDBOX_ID, sandbox_id);
    json_auto_t *filter = json_pack("{s:b}", label, 1);
    json_auto_t *list = NULL;
    if (docker_list(d, DOCKER_TYPE_CONTAINER, filter, &list, err) < 0)
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        const char *cid = json_string_value(json_object_get(c, "Id"));
        if (remove) {
            docker_logs_forget(d->logs, cid);
            if (docker_force_remove(d, cid, err) < 0)
                return -1;
        } else if (strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") == 0 &&
                   stop_container_now(d, cid, 0, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The pod's full ID and inspect, or its checkpoint when the pause container
 * is gone.  Returns 1 when neither exists.  */
static int find_sandbox(struct docker_backend *d, const char *id, char **full, json_t **inspect,
                        json_t **ckpt, crimp_error_t *err)
{
    cleanup_error crimp_error_t rerr = NULL;
    *inspect = *ckpt = NULL;
    *full = docker_resolve(d, id, true, &rerr);
    if (*full == NULL) {
        if (rerr->code != GRPC_STATUS_NOT_FOUND) {
            *err = steal_ptr(&rerr);
            return -1;
        }
        /* The pause container is gone; its checkpoint (named by the full
         * ID only) still tells what to release.  */
        if (!docker_id_is_full(id))
            return 1;
        *full = xstrdup(id);
        if (docker_sandbox_checkpoint(d, *full, NULL, ckpt, err) < 0)
            return -1;
        return *ckpt == NULL ? 1 : 0;
    }
    if (docker_inspect(d, *full, inspect, &rerr) < 0 && rerr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&rerr);
        return -1;
    }
    if (docker_sandbox_checkpoint(d, *full, *inspect, ckpt, err) < 0) {
        json_decref(*inspect);
        *inspect = NULL;
        return -1;
    }
    return 0;
}

/* Stop (REMOVE false) or Remove of pod POD_ID: its containers stopped or
 * removed, its network released, then the pause container stopped, or
 * removed with the checkpoints.  Unlike dockershim, Remove releases the
 * network when Stop did not, so an IP never leaks.  A pod that is gone
 * already is done.  */
static int end_sandbox(struct docker_backend *d, const char *pod_id, bool remove,
                       crimp_error_t *err)
{
    cleanup_free char *id = NULL;
    json_auto_t *inspect = NULL, *ckpt = NULL;
    int found = find_sandbox(d, pod_id, &id, &inspect, &ckpt, err);
    if (found != 0)
        return found < 0 ? -1 : 0; /* 1: already removed */
    const char *what = remove ? "remove" : "stop";
    if (for_pod_containers(d, id, remove, err) < 0 || teardown_network(d, id, inspect, ckpt, err) < 0)
        return crimp_error_wrap(err, "%s pod sandbox %.12s", what, id);
    if (!remove) {
        if (inspect && stop_container_now(d, id, SANDBOX_STOP_SECONDS, err) < 0)
            return crimp_error_wrap(err, "%s pod sandbox %.12s", what, id);
        return 0;
    }
    if (inspect && docker_force_remove(d, id, err) < 0)
        return crimp_error_wrap(err, "%s pod sandbox %.12s", what, id);
    cri_dockerd_checkpoint_remove(d, id);
    return crimp_checkpoint_remove(d->sandbox_dir, id, err);
}

int docker_stop_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__StopPodSandboxRequest *req,
                            Runtime__V1__StopPodSandboxResponse *resp, crimp_error_t *err)
{
    return end_sandbox(docker_of(self), req->pod_sandbox_id, false, err);
}

int docker_remove_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                              const Runtime__V1__RemovePodSandboxRequest *req,
                              Runtime__V1__RemovePodSandboxResponse *resp, crimp_error_t *err)
{
    return end_sandbox(docker_of(self), req->pod_sandbox_id, true, err);
}

