/* The docker backend: dockershim rebuilt on the Docker Engine API.  This
 * file opens it (options, the Docker client, the CNI runner), answers
 * Version and Status, and holds the helpers the other files share.  */
#include "docker.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/oom.h"
#include "common/checkpoint.h"
#include "common/cgroup_driver.h"
#include "common/conditions.h"
#include "common/list_stream.h"
#include "common/oci_spec.h"
#include "common/options.h"
#include "common/runtime_features.h"
#include "deadline.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define DEFAULT_SOCKET      "/var/run/docker.sock"

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
    json_auto_t *names = oci_caps_of_mask(bnd & docker_wants);
    char **caps = xcalloc(json_array_size(names) + 1, sizeof(char *));
    for (size_t i = 0; i < json_array_size(names); i++) /* Docker's names lack "CAP_" */
        caps[i] = xstrdup(json_string_value(json_array_get(names, i)) + strlen("CAP_"));
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

static void docker_close(struct crimp_backend *self)
{
    struct docker_backend *d = docker_of(self);
    docker_recover_join(d);
    docker_inventory_free(d->inventory);
    docker_image_cache_free(d->images);
    crimp_fs_usage_cache_free(d->fs_usage);
    docker_logs_free(d->logs);
    crimp_cpu_rates_free(d->cpu_rates);
    cni_runner_free(d->cni);
    docker_client_free(d->client);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->recover_lock);
    pthread_cond_destroy(&d->released);
    json_decref(d->making);
    json_decref(d->discarding);
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

#define OPEN_PROBE_NS (3 * 1000000000LL)

static struct crimp_backend *docker_open(const struct crimp_backend_config *cfg,
                                         crimp_error_t *err)
{
    json_t *opts = cfg->options;
    if (crimp_options_check("docker", opts, err) < 0)
        return NULL;
    struct docker_backend *d = xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->recover_lock, NULL);
    pthread_cond_init(&d->released, NULL);
    d->making = json_object();
    d->discarding = json_object();
    d->client = docker_client_new(socket_of(cfg->endpoint));
    d->pause_image = xstrdup(crimp_option_string(opts, "pause_image"));
    d->state_dir = xstrdup(cfg->state_dir ? cfg->state_dir : "/var/lib/crimp/backends/docker");
    d->sandbox_dir = xasprintf("%s/sandboxes", d->state_dir);
    /* cri-dockerd's --cri-dockerd-root-directory; "" keeps none.  */
    const char *cd_root = crimp_option_string(opts, "cri_dockerd_root");
    d->cri_dockerd_root = str_empty(cd_root) ? NULL : xstrdup(cd_root);
    cleanup_free char *cache = xasprintf("%s/cni-cache", d->state_dir);
    struct cni_options co = {
        .bin_dirs = crimp_option_string(opts, "cni_bin_dirs"),
        .conf_dir = crimp_option_string(opts, "cni_conf_dir"),
        .cache_dir = cache,
        .timeout_seconds = (int)crimp_option_int(opts, "cni_timeout", 0),
    };
    d->cni = cni_runner_new(&co);
    d->spec.pause_image = d->pause_image;
    d->spec.oom_score_adj_min =
        (int)crimp_option_int(opts, "oom_score_adj_min", crimp_oom_score_adj_floor());
    d->privileged_caps = privileged_caps(crimp_option_string(opts, "privileged"));
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
    d->logs = docker_logs_new(d, (int)crimp_option_int(opts, "log_drain_ms", 0));
    d->cpu_rates = crimp_cpu_rates_new();
    d->fs_usage =
        crimp_fs_usage_cache_new((int)crimp_option_int(opts, "fs_usage_refresh_seconds", 0));
    d->inventory = docker_inventory_new(d);
    d->images = docker_image_cache_new(d);
    /* dockerd may start after crimpd: only log here, Status shows it.  A
     * dockerd that hangs holds up the start for OPEN_PROBE_NS at most.  */
    crimp_error_t verr = NULL;
    cleanup_free char *version = NULL;
    struct crimp_budget at_open = {.deadline_ns = crimp_now_mono_ns() + OPEN_PROBE_NS};
    crimp_budget_set_current(&at_open);
    int vrc = docker_engine_version(d, &version, &verr);
    if (vrc < 0) {
        log_warn("docker backend `%s`: %s; the recovery of what a killed crimpd left runs "
                 "once dockerd answers",
                 cfg->name, verr->msg);
        crimp_error_release(&verr);
        atomic_store(&d->recovery_pending, true);
    } else {
        /* Bounded apart from the probe: the plan lists Docker's
         * containers; the teardown runs on its own thread after this (an
         * orphan container's log copier, resumed below, is dropped as the
         * sweep removes it).  */
        struct crimp_budget sweep = {.deadline_ns = crimp_now_mono_ns() + DOCKER_RECOVER_PLAN_NS};
        crimp_budget_set_current(&sweep);
        if (docker_recover(d, &verr) < 0) {
            log_warn("docker backend `%s`: %s; tried again once dockerd answers", cfg->name,
                     verr->msg);
            crimp_error_release(&verr);
            atomic_store(&d->recovery_pending, true);
        }
        at_open.deadline_ns = crimp_now_mono_ns() + OPEN_PROBE_NS;
        crimp_budget_set_current(&at_open);
    }
    docker_logs_recover(d->logs);
    crimp_budget_set_current(NULL);
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

int docker_version(struct crimp_backend *self, struct crimp_rpc *rpc,
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

int docker_status(struct crimp_backend *self, struct crimp_rpc *rpc,
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
int docker_runtime_config(struct crimp_backend *self, struct crimp_rpc *rpc,
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
    int h = 0, m = 0, used = 0;
    /* RFC 3339 offsets are exactly "+HH:MM"; anything else counts as UTC.  */
    if ((*rest == '+' || *rest == '-') && sscanf(rest + 1, "%2d:%2d%n", &h, &m, &used) == 2 &&
        used == 5 && h >= 0 && h < 24 && m >= 0 && m < 60)
        offset = (*rest == '+' ? 1 : -1) * (h * 3600 + m * 60);
    /* Unix ns in an int64 end in 2262: a later (or garbled) year is no time.  */
    int64_t secs = (int64_t)timegm(&tm) - offset;
    if (secs < -INT64_MAX / 1000000000LL || secs > INT64_MAX / 1000000000LL - 1)
        return 0;
    return secs * 1000000000LL + ns;
}

int64_t docker_seconds_to_ns(json_int_t seconds)
{
    if (seconds < -INT64_MAX / 1000000000LL || seconds > INT64_MAX / 1000000000LL)
        return 0;
    return (int64_t)seconds * 1000000000LL;
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
    json_auto_t *all = NULL;
    if (list_labelled(d, type, label_filters, &all, err) < 0)
        return -1;
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
