/* The containerd backend: the CRI on containerd's native gRPC API (content,
 * images, snapshots, containers, tasks), doing in C what containerd's CRI
 * plugin does in Go.  This file opens it (options, the connection, the CNI
 * runner, the log copier, the records and the exit monitor), answers
 * Version, Status and UpdateRuntimeConfig, and holds the ops table.  The
 * other RPCs, one group a file, as backends/backend.h maps them.  */
#include "containerd.h"

#include <string.h>

#include "common/checkpoint.h"
#include "common/conditions.h"
#include "common/list_stream.h"
#include "common/runtime_features.h"
#include "common/oom.h"
#include "common/options.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "shim_sweep.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define DEFAULT_SOCKET      "unix:///run/containerd/containerd.sock"

static char **string_list(json_t *arr)
{
    char **v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
    size_t i, n = 0;
    json_t *s;
    json_array_foreach (arr, i, s)
        if (json_is_string(s))
            v[n++] = xstrdup(json_string_value(s));
    return v;
}

static void ctrd_close(struct crimp_backend *self)
{
    struct ctrd_backend *b = ctrd_of(self);
    /* The reaper first (it calls containerd), then the connection (its
     * pending waits end), then what both used; the logger before the
     * monitor it hands stdin closes to.  */
    if (b->monitor)
        ctrd_monitor_stop(b->monitor);
    ctrd_image_store_free(b->image_store); /* its subscription before the connection */
    ctrd_conn_free(b->conn);
    ctrd_logger_free(b->logger);
    ctrd_monitor_free(b->monitor);
    crimp_event_hub_free(b->events);
    crimp_fs_usage_cache_free(b->fs_usage);
    free(atomic_load(&b->snapshotter_root));
    crimp_cpu_rates_free(b->cpu_rates);
    ctrd_store_free(b);
    ctrd_pulls_free(b->pulls);
    ctrd_image_cache_free(b->image_cache);
    cni_runner_free(b->cni);
    for (char **s = b->insecure_registries; s && *s; s++)
        free(*s);
    free(b->insecure_registries);
    free(b->registry_config_path);
    free(b->shim_address);
    free(b->snapshotter);
    free(b->runtime);
    free(b->pause_image);
    free(b->state_dir);
    free(b->netns_dir);
    free(b->sandbox_root);
    json_decref(b->stale_intents);
    json_decref(b->live_intents);
    pthread_mutex_destroy(&b->intents_mu);
    free(b);
}

static struct crimp_backend *ctrd_open(const struct crimp_backend_config *cfg, crimp_error_t *err)
{
    json_t *opts = cfg->options;
    enum crimp_cgroup_driver driver;
    bool explicit_driver = false;
    if (crimp_options_check("containerd", opts, err) < 0 ||
        crimp_cgroup_driver_option(opts, &driver, &explicit_driver, err) < 0)
        return NULL;
    struct ctrd_backend *b = xcalloc(1, sizeof(*b));
    b->cgroup_driver = driver;
    log_info("containerd backend `%s`: cgroup driver %s (%s)", cfg->name,
             crimp_cgroup_driver_name(driver),
             explicit_driver ? "options.cgroup_driver" : "detected from the host");
    if (driver == CRIMP_CGROUP_SYSTEMD && !crimp_systemd_booted())
        log_warn("containerd backend `%s`: cgroup driver systemd, but systemd does not run this "
                 "host: runc will refuse every pod (set cgroup_driver to cgroupfs)",
                 cfg->name);
    b->conn = ctrd_conn_new(cfg->endpoint ? cfg->endpoint : DEFAULT_SOCKET,
                            crimp_option_string(opts, "namespace"));
    b->snapshotter = xstrdup(crimp_option_string(opts, "snapshotter"));
    b->runtime = xstrdup(crimp_option_string(opts, "runtime"));
    b->pause_image = xstrdup(crimp_option_string(opts, "pause_image"));
    b->insecure_registries = string_list(json_object_get(opts, "insecure_registries"));
    b->registry_config_path =
        xstrdup(crimp_option_string(opts, "registry_config_path"));
    const char *shim_address = crimp_option_string(opts, "shim_address");
    b->shim_address = xstrdup(str_empty(shim_address)
                                  ? ctrd_endpoint_path(ctrd_conn_endpoint(b->conn))
                                  : shim_address);
    b->state_dir =
        xstrdup(cfg->state_dir ? cfg->state_dir : "/var/lib/crimp/backends/containerd");
    b->netns_dir = xasprintf("%s/netns", b->state_dir);
    b->sandbox_root = xasprintf("%s/pods", b->state_dir);
    b->stale_intents = json_array();
    b->live_intents = json_object();
    pthread_mutex_init(&b->intents_mu, NULL);
    b->oom_score_adj_min =
        (int)crimp_option_int(opts, "oom_score_adj_min", crimp_oom_score_adj_floor());
    cleanup_free char *cache = xasprintf("%s/cni-cache", b->state_dir);
    struct cni_options co = {
        .bin_dirs = crimp_option_string(opts, "cni_bin_dirs"),
        .conf_dir = crimp_option_string(opts, "cni_conf_dir"),
        .cache_dir = cache,
        .timeout_seconds = (int)crimp_option_int(opts, "cni_timeout", 0),
    };
    b->cni = cni_runner_new(&co);
    b->pulls = ctrd_pulls_new();
    b->image_cache = ctrd_image_cache_new(256);
    b->events = crimp_event_hub_new();
    b->cpu_rates = crimp_cpu_rates_new();
    b->log_drain_ms = (int)crimp_option_int(opts, "log_drain_ms", 0);
    b->fs_usage =
        crimp_fs_usage_cache_new((int)crimp_option_int(opts, "fs_usage_refresh_seconds", 0));
    if (crimp_mkdir_p(b->sandbox_root, 0711, err) < 0 ||
        (b->logger = ctrd_logger_new(ctrd_monitor_close_stdin, b, err)) == NULL || ctrd_store_init(b, err) < 0) {
        crimp_error_wrap(err, "containerd backend `%s`", cfg->name);
        ctrd_close(&b->base);
        return NULL;
    }
    /* Only runc is probed: another runtime's support is not crimp's to
     * claim.  */
    b->recursive_ro = strcmp(b->runtime, CTRD_DEFAULT_RUNTIME) == 0 &&
                      crimp_kernel_has_mount_setattr() &&
                      crimp_runc_supports_mount_option("runc", "rro");
    /* What a crimpd killed mid-call left behind: the host's part now,
     * before any call is served; containerd's part on the reaper, which
     * keeps asking when containerd comes up after crimpd.  */
    ctrd_recover_local(b);
    ctrd_log_resume_all(b);
    b->monitor = ctrd_monitor_new(b);
    b->image_store = ctrd_image_store_new(b);
    ctrd_monitor_recover(b);
    ctrd_monitor_resync(b);
    return &b->base;
}

int ctrd_version(struct crimp_backend *self, struct crimp_rpc *rpc,
                 const Runtime__V1__VersionRequest *req, Runtime__V1__VersionResponse *resp,
                 crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    Containerd__Services__Version__V1__VersionResponse *v = NULL;
    struct ctrd_opts o = {.rpc = rpc, .timeout_s = 5};
    if (ctrd_call(b->conn, &o, CTRD_VERSION "Version", &empty.base,
                  &containerd__services__version__v1__version_response__descriptor,
                  (ProtobufCMessage **)&v, err) < 0)
        return -1;
    resp->version = xstrdup("0.1.0");
    resp->runtime_name = xstrdup("containerd");
    resp->runtime_version = xstrdup(v->version);
    resp->runtime_api_version = xstrdup("v1");
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return 0;
}

int ctrd_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                const Runtime__V1__StatusRequest *req, Runtime__V1__StatusResponse *resp,
                crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    Runtime__V1__VersionResponse v = RUNTIME__V1__VERSION_RESPONSE__INIT;
    cleanup_error crimp_error_t verr = NULL;
    bool runtime_ok = ctrd_version(self, rpc, NULL, &v, &verr) == 0;
    crimp_pb_free_fields(&v.base);
    cleanup_free char *why = NULL;
    bool net_ok = cni_runner_ready(b->cni, &why);
    crimp_conditions_set(resp, runtime_ok, "ContainerdNotReady", verr ? verr->msg : "", net_ok,
                         why);
    /* One handler, the default; crimp does not map pod user namespaces.  */
    crimp_status_add_handler(resp, "", b->recursive_ro, false);
    return 0;
}

/* crimp creates the cgroups itself (through runc): its own driver is the
 * answer, whatever containerd's CRI plugin would say.  */
int ctrd_runtime_config(struct crimp_backend *self, struct crimp_rpc *rpc,
                        const Runtime__V1__RuntimeConfigRequest *req,
                        Runtime__V1__RuntimeConfigResponse *resp, crimp_error_t *err)
{
    crimp_cgroup_driver_reply(resp, ctrd_of(self)->cgroup_driver);
    return 0;
}

const struct crimp_backend_ops crimp_backend_containerd = {
    .type = "containerd",
    .open = ctrd_open,
    .close = ctrd_close,
    .version = ctrd_version,
    .status = ctrd_status,
    .runtime_config = ctrd_runtime_config,
    .run_pod_sandbox = ctrd_run_pod_sandbox,
    .stop_pod_sandbox = ctrd_stop_pod_sandbox,
    .remove_pod_sandbox = ctrd_remove_pod_sandbox,
    .pod_sandbox_status = ctrd_pod_sandbox_status,
    .list_pod_sandbox = ctrd_list_pod_sandbox,
    .create_container = ctrd_create_container,
    .start_container = ctrd_start_container,
    .stop_container = ctrd_stop_container,
    .remove_container = ctrd_remove_container,
    .container_status = ctrd_container_status,
    .list_containers = ctrd_list_containers,
    .get_container_events = ctrd_get_container_events,
    .container_stats = ctrd_container_stats,
    .list_container_stats = ctrd_list_container_stats,
    .pod_sandbox_stats = ctrd_pod_sandbox_stats,
    .list_pod_sandbox_stats = ctrd_list_pod_sandbox_stats,
    .list_metric_descriptors = ctrd_list_metric_descriptors,
    .list_pod_sandbox_metrics = ctrd_list_pod_sandbox_metrics,
    .update_container_resources = ctrd_update_container_resources,
    .reopen_container_log = ctrd_reopen_container_log,
    .exec_sync = ctrd_exec_sync,
    .stream = &ctrd_stream_ops,
    .list_images = ctrd_list_images,
    .image_status = ctrd_image_status,
    .pull_image = ctrd_pull_image,
    .remove_image = ctrd_remove_image,
    .image_fs_info = ctrd_image_fs_info,
    /* clang-format off */
    CRIMP_LIST_STREAM_OPS
    /* clang-format on */
};
