/* Pod sandboxes on containerd's native API (docs/containerd.md,
 * "Pods"): a network namespace crimp creates and pins, CNI ADD into it,
 * the pod's files (hostname, hosts, resolv.conf, a /dev/shm tmpfs), and the
 * pause container: snapshot of the sandbox image, container record, task.
 * Stop kills what runs and releases the network; Remove deletes the rest.
 * Both are idempotent and work after the pause died or crimpd restarted,
 * from the record in store.c.  */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/netns.h"
#include "common/oci_spec.h"
#include "common/oom.h"
#include "common/pod.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"
#include "log.h"
#include "pbutil.h"
#include "trace.h"
#include "utils.h"

#define SANDBOX_KILL_WAIT_S 10
#define SHM_SIZE            "size=65536k"
#define PAUSE_EXIT_WAIT_NS  (10LL * 1000 * 1000 * 1000)

/* ---- the pod's files ---------------------------------------------------- */

char *ctrd_pod_dir(struct ctrd_backend *b, const char *id)
{
    return xasprintf("%s/pods/%s", b->state_dir, id);
}

static int copy_file(const char *from, const char *to, crimp_error_t *err)
{
    cleanup_file FILE *in = fopen(from, "re");
    cleanup_file FILE *out = fopen(to, "we");
    if (out == NULL)
        return crimp_make_errno_error(err, errno, "create %s", to);
    char buf[4096];
    size_t n;
    while (in && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    return fflush(out) == 0 ? 0 : crimp_make_errno_error(err, errno, "write %s", to);
}

static int write_text(const char *path, const char *text, crimp_error_t *err)
{
    cleanup_file FILE *f = fopen(path, "we");
    if (f == NULL || fputs(text, f) < 0 || fflush(f) != 0)
        return crimp_make_errno_error(err, errno, "write %s", path);
    return 0;
}

static bool host_ipc(const Runtime__V1__PodSandboxConfig *cfg)
{
    const Runtime__V1__NamespaceOption *ns =
        cfg->linux && cfg->linux->security_context ? cfg->linux->security_context->namespace_options
                                                    : NULL;
    return ns && ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
}

/* hostname, hosts, resolv.conf and the shm tmpfs in the pod's dir.  */
static int make_pod_files(struct ctrd_backend *b, const char *dir,
                          const Runtime__V1__PodSandboxConfig *cfg, crimp_error_t *err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return crimp_make_errno_error(err, errno, "mkdir %s", dir);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    const char *hostname = crimp_pod_host_network(cfg) || str_empty(cfg->hostname) ? host
                                                                                   : cfg->hostname;
    cleanup_free char *hn = xasprintf("%s/hostname", dir);
    cleanup_free char *hn_text = xasprintf("%s\n", hostname);
    cleanup_free char *hosts = xasprintf("%s/hosts", dir);
    cleanup_free char *resolv = xasprintf("%s/resolv.conf", dir);
    if (write_text(hn, hn_text, err) < 0 || copy_file("/etc/hosts", hosts, err) < 0)
        return -1;
    int wrote = crimp_pod_write_resolv_conf(resolv, cfg->dns_config, err);
    if (wrote < 0 || (wrote == 1 && copy_file("/etc/resolv.conf", resolv, err) < 0))
        return -1;
    if (host_ipc(cfg))
        return 0;
    cleanup_free char *shm = xasprintf("%s/shm", dir);
    if (mkdir(shm, 0755) < 0 && errno != EEXIST)
        return crimp_make_errno_error(err, errno, "mkdir %s", shm);
    if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777," SHM_SIZE) < 0)
        return crimp_make_errno_error(err, errno, "mount the pod's shm on %s", shm);
    return 0;
}

void ctrd_remove_pod_files(struct ctrd_backend *b, const char *id)
{
    cleanup_free char *dir = ctrd_pod_dir(b, id);
    cleanup_free char *shm = xasprintf("%s/shm", dir);
    if (umount2(shm, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("containerd: umount %s: %s", shm, strerror(errno));
    const char *names[] = {"shm", "hostname", "hosts", "resolv.conf"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(names); i++) {
        cleanup_free char *p = xasprintf("%s/%s", dir, names[i]);
        if (i == 0)
            rmdir(p);
        else
            unlink(p);
    }
    rmdir(dir);
}

/* ---- the network -------------------------------------------------------- */

static void fill_attachment(struct cni_attachment *a, const char *id, const char *netns,
                            const Runtime__V1__PodSandboxConfig *cfg, json_t *port_mappings)
{
    *a = cni_pod_attachment(id, netns, cfg->metadata ? cfg->metadata->namespace_ : "",
                            cfg->metadata ? cfg->metadata->name : "", port_mappings);
}

/* CNI ADD into the pod's netns (created already); the pod's IPs into S.  */
static int attach_network(struct ctrd_backend *b, struct ctrd_sandbox *s, crimp_error_t *err)
{
    json_auto_t *pm = crimp_pod_port_mappings(s->config);
    struct cni_attachment a;
    fill_attachment(&a, s->id, s->netns, s->config, pm);
    json_auto_t *result = NULL;
    if (cni_add(b->cni, &a, &result, err) < 0)
        return crimp_error_wrap(err, "pod network");
    char *ips[8];
    size_t n = cni_result_ips(result, ips, CRIMP_ARRAY_SIZE(ips));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(s->ips, json_string(ips[i])), free(ips[i]);
    s->network_down = false;
    return 0;
}

/* The pod's network is set up on a helper thread while the pause container
 * is created: the CNI plugins (~80 ms here) and the shim's start (~200 ms)
 * wait on different things, and the pause only needs the netns to exist.
 * The helper touches only S's IPs and network_down.  */
struct network_job {
    struct ctrd_backend *b;
    struct ctrd_sandbox *s;
    pthread_t thread;
    bool threaded;
    struct crimp_trace trace;
    crimp_error_t err;
    int ret;
};

static void *network_thread(void *arg)
{
    struct network_job *j = arg;
    struct crimp_trace *caller = crimp_trace_current(); /* NULL on a new thread */
    crimp_trace_set_current(&j->trace);
    j->ret = attach_network(j->b, j->s, &j->err);
    crimp_trace_set_current(caller);
    return NULL;
}

static void network_start(struct network_job *j, struct ctrd_backend *b, struct ctrd_sandbox *s)
{
    j->b = b;
    j->s = s;
    crimp_trace_fork(&j->trace);
    j->threaded = pthread_create(&j->thread, NULL, network_thread, j) == 0;
    if (!j->threaded)
        network_thread(j); /* no thread to spare: do it here */
}

/* Waits for the helper; its result, with its error moved into ERR when
 * ERR has none yet.  */
static int network_finish(struct network_job *j, crimp_error_t *err)
{
    if (j->threaded)
        pthread_join(j->thread, NULL);
    crimp_trace_join(&j->trace);
    if (j->ret < 0 && *err == NULL)
        *err = steal_ptr(&j->err);
    crimp_error_release(&j->err);
    return j->ret;
}

/* CNI DEL and the netns, once; the record remembers it was done.  */
int ctrd_sandbox_teardown_network(struct ctrd_backend *b, struct ctrd_sandbox *s,
                                  crimp_error_t *err)
{
    if (!s->network_down && s->netns) {
        json_auto_t *pm = crimp_pod_port_mappings(s->config);
        struct cni_attachment a;
        fill_attachment(&a, s->id, netns_is_pinned(s->netns) ? s->netns : "", s->config, pm);
        if (cni_del(b->cni, &a, err) < 0)
            return crimp_error_wrap(err, "pod network");
    }
    s->network_down = true;
    if (s->netns && netns_remove(s->netns, err) < 0)
        return -1;
    return 0;
}

/* ---- RunPodSandbox ------------------------------------------------------ */

int ctrd_cgroups_path(struct ctrd_backend *b, const char *parent, const char *id, char **out,
                      crimp_error_t *err)
{
    return crimp_cgroups_path(b->cgroup_driver, parent, ctrd_conn_namespace(b->conn), "crimp", id,
                              out, err);
}

static json_t *sandbox_spec(struct ctrd_backend *b, struct ctrd_sandbox *s,
                            const struct ctrd_image *img, crimp_error_t *err)
{
    cleanup_free char *dir = ctrd_pod_dir(b, s->id);
    cleanup_free char *hn = xasprintf("%s/hostname", dir);
    cleanup_free char *hosts = xasprintf("%s/hosts", dir);
    cleanup_free char *resolv = xasprintf("%s/resolv.conf", dir);
    cleanup_free char *shm = host_ipc(s->config) ? NULL : xasprintf("%s/shm", dir);
    cleanup_free char *cg = NULL;
    if (ctrd_cgroups_path(b, s->config->linux ? s->config->linux->cgroup_parent : NULL, s->id, &cg,
                          err) < 0)
        return NULL;
    struct oci_sandbox_params p = {
        .id = s->id,
        .image_config = json_object_get(img->config, "config"),
        .netns_path = s->netns,
        .hostname_path = hn,
        .resolv_conf_path = resolv,
        .hosts_path = hosts,
        .shm_path = shm,
        .cgroups_path = cg,
        .oom_score_adj = (int)crimp_oom_clamp(-998, b->oom_score_adj_min),
    };
    return oci_sandbox_spec(s->config, &p, err);
}

/* The pause container: record, snapshot, task, started and watched.  */
static int start_pause(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_sandbox *s,
                       crimp_error_t *err)
{
    struct ctrd_image img = {0};
    if (ctrd_image_ensure(b, rpc, b->pause_image, &img, err) < 0)
        return crimp_error_wrap(err, "sandbox image %s", b->pause_image);
    json_auto_t *spec = sandbox_spec(b, s, &img, err);
    if (spec == NULL) {
        ctrd_image_clear(&img);
        return -1;
    }
    cleanup_free char *lease = NULL;
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *snap = NULL;
    struct ctrd_opts o = {.rpc = rpc};
    int ret = ctrd_lease_create(b->conn, &o, &lease, err);
    if (ret == 0)
        ret = ctrd_prepare_rootfs(b, rpc, lease, s->id, img.chain_id, &snap, err);
    if (ret == 0)
        ret = ctrd_create_record(b, rpc, lease, s->id, img.name, "sandbox", spec, err);
    if (lease) {
        cleanup_error crimp_error_t lerr = NULL;
        ctrd_lease_delete(b->conn, &o, lease, &lerr);
    }
    ctrd_image_clear(&img);
    if (ret == 0)
        ret = ctrd_create_task(b, rpc, s->id, snap->mounts, snap->n_mounts, NULL, false, &s->pid,
                               err);
    if (snap)
        protobuf_c_message_free_unpacked(&snap->base, NULL);
    if (ret == 0)
        ret = ctrd_monitor_watch(b, s->id, err);
    if (ret == 0)
        ret = ctrd_start_task(b, rpc, s->id, NULL, err);
    return ret;
}

/* Undoes whatever part of a RunPodSandbox happened.  */
static void undo_sandbox(struct ctrd_backend *b, struct ctrd_sandbox *s)
{
    cleanup_error crimp_error_t err = NULL;
    ctrd_kill(b, NULL, s->id, NULL, SIGKILL, &err);
    crimp_error_release(&err);
    ctrd_monitor_reap(b, s->id, 0, 0);
    if (ctrd_delete_record(b, NULL, s->id, &err) < 0)
        log_warn("containerd: cleanup of a failed pod: %s", err->msg);
    crimp_error_release(&err);
    if (s->netns && ctrd_sandbox_teardown_network(b, s, &err) < 0)
        log_warn("containerd: cleanup of a failed pod: %s", err->msg);
    ctrd_remove_pod_files(b, s->id);
}

int ctrd_run_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                         const Runtime__V1__RunPodSandboxRequest *req,
                         Runtime__V1__RunPodSandboxResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    if (req->config == NULL || req->config->metadata == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "RunPodSandbox needs config.metadata");
    bool host_net = crimp_pod_host_network(req->config);
    cleanup_free char *why = NULL;
    if (!host_net && !cni_runner_ready(b->cni, &why))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "the pod network is not ready: %s", why ? why : "no CNI config");
    cleanup_free char *id = ctrd_new_id(err);
    if (id == NULL)
        return -1;
    cleanup_free char *name_key = ctrd_reserve_pod_name(b, req->config->metadata, id, err);
    if (name_key == NULL)
        return -1;
    struct ctrd_sandbox *s = ctrd_sandbox_new(id);
    s->config = (Runtime__V1__PodSandboxConfig *)ctrd_pb_clone(&req->config->base);
    s->runtime_handler = xstrdup(req->runtime_handler ? req->runtime_handler : "");
    s->created_at = crimp_now_real_ns();
    s->network_down = host_net;
    cleanup_free char *dir = ctrd_pod_dir(b, id);
    cleanup_free char *pods = xasprintf("%s/pods", b->state_dir);
    mkdir(pods, 0755);
    cleanup_free char *what = xasprintf("%s/%s", req->config->metadata->namespace_,
                                        req->config->metadata->name);
    if (ctrd_intent_begin(b, "pod", id, what, err) < 0) {
        ctrd_store_release_name(b, name_key);
        ctrd_sandbox_put(s);
        return -1;
    }
    int ret = make_pod_files(b, dir, s->config, err);
    if (ret == 0 && !host_net)
        ret = netns_create(b->netns_dir, &s->netns, err);
    bool networking = ret == 0 && !host_net;
    cleanup_free struct network_job *net = networking ? xcalloc(1, sizeof(*net)) : NULL;
    if (networking)
        network_start(net, b, s);
    if (ret == 0)
        ret = start_pause(b, rpc, s, err);
    if (networking && network_finish(net, err) < 0)
        ret = -1;
    if (ret == 0) {
        s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
        ret = ctrd_sandbox_add(b, s, err);
    }
    if (ret < 0)
        undo_sandbox(b, s);
    /* The record explains the pod from here on, or nothing is left.  */
    ctrd_intent_end(b, id);
    /* Added, the record holds the name; failed, nothing does.  */
    ctrd_store_release_name(b, name_key);
    ctrd_sandbox_put(s);
    if (ret < 0)
        return -1;
    resp->pod_sandbox_id = steal_ptr(&id);
    return 0;
}

/* ---- StopPodSandbox and RemovePodSandbox -------------------------------- */

/* Kills the pause task and waits for the reaper to record its exit.  */
static int stop_pause(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_sandbox *s,
                      crimp_error_t *err)
{
    if (s->task_exited)
        return 0;
    if (ctrd_kill(b, rpc, s->id, NULL, SIGKILL, err) < 0)
        return -1;
    if (!ctrd_wait_flag(&s->mu, &s->exited, &s->task_exited,
                        crimp_now_mono_ns() + PAUSE_EXIT_WAIT_NS))
        ctrd_monitor_reap(b, s->id, 137, 0); /* the wait was lost: reap it here */
    return 0;
}

int ctrd_sandbox_stop(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_sandbox *s,
                      crimp_error_t *err)
{
    size_t n = 0;
    struct ctrd_container **cs = ctrd_containers(b, s->id, &n);
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = ctrd_container_stop(b, rpc, cs[i], 0, err);
    ctrd_containers_put_all(cs, n);
    if (ret == 0)
        ret = stop_pause(b, rpc, s, err);
    if (ret < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    ret = ctrd_sandbox_teardown_network(b, s, err);
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    cleanup_error crimp_error_t serr = NULL;
    if (ctrd_sandbox_save(b, s, &serr) < 0)
        log_warn("containerd: %s", serr->msg);
    pthread_mutex_unlock(&s->mu);
    cleanup_free char *shm = xasprintf("%s/pods/%s/shm", b->state_dir, s->id);
    umount2(shm, MNT_DETACH);
    return ret;
}

/* Stop and Remove of a pod that is gone succeed (kubelet retries them):
 * 1 with *S when ID is known, 0 when it is not, < 0 on another error.  */
static int existing_sandbox(struct ctrd_backend *b, const char *id, struct ctrd_sandbox **s,
                            crimp_error_t *err)
{
    *s = ctrd_sandbox_get(b, id, err);
    if (*s)
        return 1;
    if ((*err)->code != GRPC_STATUS_NOT_FOUND)
        return -1;
    crimp_error_release(err);
    return 0;
}

int ctrd_stop_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__StopPodSandboxRequest *req,
                          Runtime__V1__StopPodSandboxResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_sandbox *s = NULL;
    if (existing_sandbox(b, req->pod_sandbox_id, &s, err) <= 0)
        return *err ? -1 : 0;
    int ret = ctrd_sandbox_stop(b, rpc, s, err);
    ctrd_sandbox_put(s);
    return ret;
}

int ctrd_remove_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__RemovePodSandboxRequest *req,
                            Runtime__V1__RemovePodSandboxResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_sandbox *s = NULL;
    if (existing_sandbox(b, req->pod_sandbox_id, &s, err) <= 0)
        return *err ? -1 : 0;
    int ret = ctrd_sandbox_stop(b, rpc, s, err);
    size_t n = 0;
    struct ctrd_container **cs = ctrd_containers(b, s->id, &n);
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = ctrd_container_remove(b, rpc, cs[i], err);
    ctrd_containers_put_all(cs, n);
    if (ret == 0)
        ret = ctrd_delete_record(b, rpc, s->id, err);
    if (ret == 0) {
        ctrd_remove_pod_files(b, s->id);
        ctrd_sandbox_forget(b, s);
    }
    ctrd_sandbox_put(s);
    return ret;
}
