/* The docker backend: dockershim rebuilt on the Docker Engine API.  This
 * file opens it (options, the Docker client, the CNI runner), answers
 * Version and Status, and holds the helpers the other files share.  */
#include "docker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/oom.h"
#include "common/checkpoint.h"
#include "common/cgroup_driver.h"
#include "common/conditions.h"
#include "common/list_stream.h"
#include "common/runtime_features.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define DEFAULT_PAUSE_IMAGE "registry.k8s.io/pause:3.10"
#define DEFAULT_CRI_DOCKERD_ROOT "/var/lib/cri-dockerd"
#define DEFAULT_SOCKET      "/var/run/docker.sock"
/* How old a writable layer's usage may get (kubelet's housekeeping period).  */
#define DEFAULT_FS_REFRESH_SECONDS 10
/* How long an exit waits for the last of the container's output.  */
#define DEFAULT_LOG_DRAIN_MS 2000

/* Capability names by number, up to CAP_CHECKPOINT_RESTORE.  */
static const char *const CAP_NAMES[] = {
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"};
#define CAP_AUDIT_READ 37

static uint64_t bounding_set(void)
{
    cleanup_file FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long mask = ~0ULL;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "CapBnd: %llx", &mask) == 1)
            break;
    return mask;
}

/* Docker 20.10's privileged mode grants every capability up to
 * CAP_AUDIT_READ and fails when the bounding set lacks one (as on some VMs).
 * Then privileged is emulated with the capabilities there are.  Returns
 * NULL when native privileged works ("auto") or is asked for.  */
static char **privileged_caps(const char *mode)
{
    uint64_t bnd = bounding_set();
    uint64_t docker_wants = (1ULL << (CAP_AUDIT_READ + 1)) - 1;
    if (strcmp(mode, "native") == 0 || (strcmp(mode, "auto") == 0 && (bnd & docker_wants) == docker_wants))
        return NULL;
    char **caps = xcalloc(CRIMP_ARRAY_SIZE(CAP_NAMES) + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(CAP_NAMES) && i <= CAP_AUDIT_READ; i++)
        if (bnd & (1ULL << i))
            caps[n++] = xstrdup(CAP_NAMES[i]);
    return caps;
}

static const char *socket_of(const char *endpoint)
{
    if (str_empty(endpoint))
        return DEFAULT_SOCKET;
    if (has_prefix(endpoint, "unix://"))
        return endpoint + strlen("unix://");
    if (has_prefix(endpoint, "unix:"))
        return endpoint + strlen("unix:");
    return endpoint;
}

static const char *opt_string(json_t *options, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(options, key));
    return v ? v : dflt;
}

static const char *const KNOWN_OPTIONS[] = {
    "pause_image", "cni_bin_dirs", "cni_conf_dir", "cni_timeout", "oom_score_adj_min",
    "privileged",  "fs_usage_refresh_seconds", "cri_dockerd_root", "log_drain_ms", NULL,
};

static int check_options(json_t *options, crimp_error_t *err)
{
    const char *key;
    json_t *value;
    json_object_foreach (options, key, value) {
        bool known = false;
        for (size_t i = 0; KNOWN_OPTIONS[i]; i++)
            known |= strcmp(KNOWN_OPTIONS[i], key) == 0;
        if (!known)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options: unknown key `%s` (docker takes pause_image, "
                                    "cni_bin_dirs, cni_conf_dir, cni_timeout, "
                                    "oom_score_adj_min, privileged, fs_usage_refresh_seconds, "
                                    "cri_dockerd_root, log_drain_ms)",
                                    key);
        if (strcmp(key, "log_drain_ms") == 0 &&
            (!json_is_integer(value) || json_integer_value(value) < 0 ||
             json_integer_value(value) > 600000))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options.log_drain_ms: must be a number of milliseconds "
                                    "from 0 to 600000");
        bool is_int = strcmp(key, "log_drain_ms") == 0 || strcmp(key, "cni_timeout") == 0 ||
                      strcmp(key, "oom_score_adj_min") == 0 ||
                      strcmp(key, "fs_usage_refresh_seconds") == 0;
        if (is_int ? !json_is_integer(value) && !json_is_string(value) : !json_is_string(value))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options.%s: must be a %s", key, is_int ? "number" : "string");
    }
    const char *priv = opt_string(options, "privileged", "auto");
    if (strcmp(priv, "native") != 0 && strcmp(priv, "emulate") != 0 && strcmp(priv, "auto") != 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "options.privileged: `%s` is not auto, native or emulate", priv);
    return 0;
}

/* "auto" (default): the lowest value this machine accepts.  */
static int oom_floor(json_t *options)
{
    json_t *v = json_object_get(options, "oom_score_adj_min");
    if (json_is_integer(v))
        return (int)json_integer_value(v);
    return crimp_oom_score_adj_floor();
}

static void docker_close(struct crimp_backend *self)
{
    struct docker_backend *d = docker_of(self);
    docker_inventory_free(d->inventory);
    docker_image_cache_free(d->images);
    crimp_fs_usage_cache_free(d->fs_usage);
    docker_logs_free(d->logs);
    crimp_cpu_rates_free(d->cpu_rates);
    cni_runner_free(d->cni);
    docker_client_free(d->client);
    pthread_mutex_destroy(&d->lock);
    free(d->engine_version);
    free(d->pause_image);
    for (char **c = d->privileged_caps; c && *c; c++)
        free(*c);
    free(d->privileged_caps);
    free(d->state_dir);
    free(d->sandbox_dir);
    free(d->cri_dockerd_root);
    free(d);
}

static struct crimp_backend *docker_open(const struct crimp_backend_config *cfg,
                                         crimp_error_t *err)
{
    if (check_options(cfg->options, err) < 0)
        return NULL;
    struct docker_backend *d = xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    d->client = docker_client_new(socket_of(cfg->endpoint));
    d->pause_image = xstrdup(opt_string(cfg->options, "pause_image", DEFAULT_PAUSE_IMAGE));
    d->state_dir = xstrdup(cfg->state_dir ? cfg->state_dir : "/var/lib/crimp/backends/docker");
    d->sandbox_dir = xasprintf("%s/sandboxes", d->state_dir);
    /* cri-dockerd's --cri-dockerd-root-directory; "" keeps none.  */
    const char *cd_root = opt_string(cfg->options, "cri_dockerd_root", DEFAULT_CRI_DOCKERD_ROOT);
    d->cri_dockerd_root = str_empty(cd_root) ? NULL : xstrdup(cd_root);
    cleanup_free char *cache = xasprintf("%s/cni-cache", d->state_dir);
    json_t *timeout = json_object_get(cfg->options, "cni_timeout");
    struct cni_options co = {
        .bin_dirs = opt_string(cfg->options, "cni_bin_dirs", CNI_DEFAULT_BIN_DIRS),
        .conf_dir = opt_string(cfg->options, "cni_conf_dir", CNI_DEFAULT_CONF_DIR),
        .cache_dir = cache,
        .timeout_seconds = json_is_integer(timeout) ? (int)json_integer_value(timeout) : 0,
    };
    d->cni = cni_runner_new(&co);
    d->spec.pause_image = d->pause_image;
    d->spec.oom_score_adj_min = oom_floor(cfg->options);
    d->privileged_caps = privileged_caps(opt_string(cfg->options, "privileged", "auto"));
    d->spec.privileged_caps = (const char *const *)d->privileged_caps;
    if (d->privileged_caps)
        log_info("docker backend `%s`: privileged containers are emulated (the capability "
                 "bounding set lacks some of what Docker grants)", cfg->name);
    if (access("/sys/kernel/security/apparmor/profiles", R_OK) == 0)
        d->spec.apparmor_profiles_path = "/sys/kernel/security/apparmor/profiles";
    if (crimp_mkdir_p(d->sandbox_dir, 0711, err) < 0) {
        crimp_error_wrap(err, "docker state dir");
        docker_close(&d->base);
        return NULL;
    }
    json_t *drain = json_object_get(cfg->options, "log_drain_ms");
    d->logs = docker_logs_new(d, json_is_integer(drain) ? (int)json_integer_value(drain)
                                                        : DEFAULT_LOG_DRAIN_MS);
    d->cpu_rates = crimp_cpu_rates_new();
    json_t *refresh = json_object_get(cfg->options, "fs_usage_refresh_seconds");
    d->fs_usage = crimp_fs_usage_cache_new(
        json_is_integer(refresh) ? (int)json_integer_value(refresh) : DEFAULT_FS_REFRESH_SECONDS);
    d->inventory = docker_inventory_new(d);
    d->images = docker_image_cache_new(d);
    /* dockerd may start after crimpd: only log here, Status shows it.  */
    crimp_error_t verr = NULL;
    cleanup_free char *version = NULL;
    if (docker_engine_version(d, &version, &verr) < 0) {
        log_warn("docker backend `%s`: %s", cfg->name, verr->msg);
        crimp_error_release(&verr);
    }
    docker_logs_recover(d->logs);
    return &d->base;
}

int docker_engine_version(struct docker_backend *d, char **version, crimp_error_t *err)
{
    int64_t now = crimp_now_mono_ns();
    pthread_mutex_lock(&d->lock);
    if (d->engine_version && now - d->engine_version_at < 60 * 1000000000LL) {
        *version = xstrdup(d->engine_version);
        pthread_mutex_unlock(&d->lock);
        return 0;
    }
    pthread_mutex_unlock(&d->lock);
    char *v = NULL;
    if (docker_client_negotiate(d->client, &v, err) < 0)
        return -1;
    pthread_mutex_lock(&d->lock);
    free(d->engine_version);
    d->engine_version = xstrdup(v ? v : "unknown");
    d->engine_version_at = now;
    pthread_mutex_unlock(&d->lock);
    *version = v ? v : xstrdup("unknown");
    return 0;
}

static int docker_version(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__VersionRequest *req,
                          Runtime__V1__VersionResponse *resp, crimp_error_t *err)
{
    char *v = NULL;
    if (docker_engine_version(docker_of(self), &v, err) < 0)
        return -1;
    resp->version = xstrdup("0.1.0");
    resp->runtime_name = xstrdup("docker");
    resp->runtime_version = v;
    resp->runtime_api_version = xstrdup("v1");
    return 0;
}

static int docker_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                         const Runtime__V1__StatusRequest *req, Runtime__V1__StatusResponse *resp,
                         crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    struct docker_request ping = {.method = "GET", .path = "/_ping", .timeout_ms = 5000};
    cleanup_error crimp_error_t perr = NULL;
    bool runtime_ok = docker_do(d->client, &ping, NULL, &perr) == 0;
    cleanup_free char *why = NULL;
    bool net_ok = cni_runner_ready(d->cni, &why);
    crimp_conditions_set(resp, runtime_ok, "DockerDaemonNotReady", perr ? perr->msg : "", net_ok,
                         why);
    /* Docker makes binds recursively read-only only from API 1.44 (the
     * backend speaks 1.41), and user namespaces only daemon-wide: neither
     * per pod.  */
    crimp_status_add_handler(resp, "", false, false);
    return 0;
}

/* Docker creates the cgroups of its containers: its driver (GET /info
 * CgroupDriver, set by dockerd's native.cgroupdriver) is the answer.
 * "none" (rootless without cgroup v2 delegation) has no CRI value.  */
static int docker_runtime_config(struct crimp_backend *self, struct crimp_rpc *rpc,
                                 const Runtime__V1__RuntimeConfigRequest *req,
                                 Runtime__V1__RuntimeConfigResponse *resp, crimp_error_t *err)
{
    json_auto_t *info = NULL;
    if (docker_get_json(docker_of(self)->client, "/info", NULL, NULL, &info, err) < 0)
        return -1;
    const char *name = json_string_value(json_object_get(info, "CgroupDriver"));
    enum crimp_cgroup_driver d;
    if (crimp_cgroup_driver_parse(name, "docker: GET /info CgroupDriver", &d, err) < 0) {
        (*err)->code = GRPC_STATUS_FAILED_PRECONDITION;
        return -1;
    }
    crimp_cgroup_driver_reply(resp, d);
    return 0;
}

int docker_inspect(struct docker_backend *d, const char *id, json_t **out, crimp_error_t *err)
{
    if (str_empty(id))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "empty id");
    return docker_get_json(d->client, "/containers/{id}/json", id, NULL, out, err);
}

int docker_meta_of_inspect(json_t *inspect, bool sandbox, struct docker_cri_meta *meta,
                           crimp_error_t *err)
{
    json_t *labels = json_object_get(json_object_get(inspect, "Config"), "Labels");
    const char *type = json_string_value(json_object_get(labels, DOCKER_LABEL_TYPE)) ?: "";
    if (strcmp(type, sandbox ? DOCKER_TYPE_SANDBOX : DOCKER_TYPE_CONTAINER) != 0)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "not a %s",
                                sandbox ? "pod sandbox" : "container");
    return docker_cri_meta_read(labels, json_string_value(json_object_get(inspect, "Name")), meta,
                                err);
}

int64_t docker_parse_time(const char *text)
{
    if (text == NULL || has_prefix(text, "0001-01-01"))
        return 0;
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return 0;
    int64_t ns = 0;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
            if (digits < 9)
                ns = ns * 10 + (*rest - '0');
        for (; digits < 9; digits++)
            ns *= 10;
    }
    int64_t offset = 0;
    if (*rest == '+' || *rest == '-') {
        int h = 0, m = 0;
        sscanf(rest + 1, "%d:%d", &h, &m);
        offset = (*rest == '+' ? 1 : -1) * (h * 3600 + m * 60);
    }
    return ((int64_t)timegm(&tm) - offset) * 1000000000LL + ns;
}

/* The name /containers/json gives an entry ("/k8s_...").  */
static const char *list_entry_name(json_t *c)
{
    return json_string_value(json_array_get(json_object_get(c, "Names"), 0));
}

/* Every container of TYPE that matches LABEL_FILTERS, crimp's or not.  */
static int list_labelled(struct docker_backend *d, const char *type, json_t *label_filters,
                         json_t **out, crimp_error_t *err)
{
    json_auto_t *labels = json_object();
    cleanup_free char *type_label = xasprintf("%s=%s", DOCKER_LABEL_TYPE, type);
    json_object_set_new(labels, type_label, json_true());
    if (label_filters)
        json_object_update(labels, label_filters);
    json_auto_t *filters = json_pack("{s:O}", "label", labels);
    cleanup_free char *fq = docker_filters_query(filters);
    cleanup_free char *query = xasprintf("all=1&%s", fq);
    return docker_get_json(d->client, "/containers/json", NULL, query, out, err);
}

/* Calls FN for the entries of LIST crimp serves: its own and cri-dockerd's
 * (a k8s_ name); the others are skipped.  */
static void each_served(json_t *list,
                        void (*fn)(void *ctx, json_t *entry, const struct docker_cri_meta *meta),
                        void *ctx)
{
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        struct docker_cri_meta meta;
        crimp_error_t e = NULL;
        if (docker_cri_meta_read(json_object_get(c, "Labels"), list_entry_name(c), &meta, &e) < 0) {
            crimp_error_release(&e);
            continue;
        }
        fn(ctx, c, &meta);
        docker_cri_meta_free(&meta);
    }
}

static void append_entry(void *out, json_t *entry, const struct docker_cri_meta *meta)
{
    (void)meta;
    json_array_append(out, entry);
}

int docker_list(struct docker_backend *d, const char *type, json_t *label_filters, json_t **out,
                crimp_error_t *err)
{
    json_t *all = NULL;
    if (list_labelled(d, type, label_filters, &all, err) < 0)
        return -1;
    json_auto_t *owned = all;
    *out = json_array();
    each_served(all, append_entry, *out);
    return 0;
}

int docker_list_each(struct docker_backend *d, const char *type,
                     void (*fn)(void *ctx, json_t *entry, const struct docker_cri_meta *meta),
                     void *ctx, crimp_error_t *err)
{
    if (docker_inventory_ready(d->inventory, err) < 0)
        return -1;
    struct docker_inv_record *r = NULL;
    size_t n = docker_inventory_records(d->inventory, strcmp(type, DOCKER_TYPE_SANDBOX) == 0, &r);
    for (size_t i = 0; i < n; i++)
        fn(ctx, r[i].summary, &r[i].meta);
    docker_inv_records_free(r, n);
    return 0;
}

int docker_inspect_known(struct docker_backend *d, const char *id, json_t **out,
                         crimp_error_t *err)
{
    *out = docker_inventory_inspect(d->inventory, id);
    return *out ? 0 : docker_inspect(d, id, out, err);
}

const struct crimp_backend_ops crimp_backend_docker = {
    .type = "docker",
    .open = docker_open,
    .close = docker_close,
    .version = docker_version,
    .status = docker_status,
    .runtime_config = docker_runtime_config,
    .run_pod_sandbox = docker_run_pod_sandbox,
    .stop_pod_sandbox = docker_stop_pod_sandbox,
    .remove_pod_sandbox = docker_remove_pod_sandbox,
    .pod_sandbox_status = docker_pod_sandbox_status,
    .list_pod_sandbox = docker_list_pod_sandbox,
    .create_container = docker_create_container,
    .start_container = docker_start_container,
    .stop_container = docker_stop_container,
    .remove_container = docker_remove_container,
    .container_status = docker_container_status,
    .list_containers = docker_list_containers,
    .update_container_resources = docker_update_container_resources,
    .reopen_container_log = docker_reopen_container_log,
    .exec_sync = docker_exec_sync,
    .stream = &docker_stream_ops,
    .get_container_events = docker_get_container_events,
    .container_stats = docker_container_stats,
    .list_container_stats = docker_list_container_stats,
    .pod_sandbox_stats = docker_pod_sandbox_stats,
    .list_pod_sandbox_stats = docker_list_pod_sandbox_stats,
    .list_metric_descriptors = docker_list_metric_descriptors,
    .list_pod_sandbox_metrics = docker_list_pod_sandbox_metrics,
    .list_images = docker_list_images,
    .image_status = docker_image_status,
    .pull_image = docker_pull_image,
    .remove_image = docker_remove_image,
    .image_fs_info = docker_image_fs_info,
    /* clang-format off */
    CRIMP_LIST_STREAM_OPS
    /* clang-format on */
};
