/* The CNI runner's chain logic: which network, which plugins in which order,
 * with which prevResult and runtimeConfig, and the cache that DEL reads.  */
#include "cni-internal.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "log.h"
#include "utils.h"

struct cni_runner {
    char *bin_dirs, *conf_dir, *cache_dir;
    int timeout_seconds;
    pthread_mutex_t lock;
    struct timespec conf_mtime; /* of conf_dir when NETWORK was loaded */
    json_t *network;            /* the conflist in use, or NULL */
    char *why_not;              /* why there is none */
};

/* The loopback network every pod gets first, as kubelet's network plugins
 * always did.  */
static const char LOOPBACK_CONFLIST[] =
    "{\"cniVersion\": \"0.3.1\", \"name\": \"cni-loopback\","
    " \"plugins\": [{\"type\": \"loopback\"}]}";

struct cni_runner *cni_runner_new(const struct cni_options *o)
{
    struct cni_runner *r = xcalloc(1, sizeof(*r));
    r->bin_dirs = xstrdup(o->bin_dirs ? o->bin_dirs : CNI_DEFAULT_BIN_DIRS);
    r->conf_dir = xstrdup(o->conf_dir ? o->conf_dir : CNI_DEFAULT_CONF_DIR);
    r->cache_dir = xstrdup(o->cache_dir);
    r->timeout_seconds = o->timeout_seconds > 0 ? o->timeout_seconds : CNI_DEFAULT_TIMEOUT_S;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void cni_runner_free(struct cni_runner *r)
{
    if (r == NULL)
        return;
    json_decref(r->network);
    free(r->why_not);
    free(r->bin_dirs);
    free(r->conf_dir);
    free(r->cache_dir);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

json_t *cni_parse_config(const char *path, const char *text, crimp_error_t *err)
{
    json_error_t je;
    json_auto_t *j = json_loads(text, 0, &je);
    if (j == NULL || !json_is_object(j))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "cni: %s: not JSON (%s)",
                                path, j ? "not an object" : je.text),
               NULL;
    const char *name = json_string_value(json_object_get(j, "name"));
    if (str_empty(name))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "cni: %s: no \"name\"",
                                path),
               NULL;
    json_t *plugins = json_object_get(j, "plugins");
    if (plugins == NULL) {
        /* A single-plugin .conf: the object is the plugin.  */
        if (!json_is_string(json_object_get(j, "type")))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "cni: %s: neither \"plugins\" nor \"type\"", path),
                   NULL;
        const char *version = json_string_value(json_object_get(j, "cniVersion"));
        return json_pack("{s:s, s:s, s:[O]}", "name", name, "cniVersion",
                         version ? version : "0.2.0", "plugins", j);
    }
    if (!json_is_array(plugins) || json_array_size(plugins) == 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "cni: %s: \"plugins\" is empty", path),
               NULL;
    size_t i;
    json_t *p;
    json_array_foreach (plugins, i, p)
        if (!json_is_string(json_object_get(p, "type")))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "cni: %s: plugin %zu has no \"type\"", path, i),
                   NULL;
    return json_incref(j);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static bool is_config_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return n[0] != '.' && dot &&
           (strcmp(dot, ".conflist") == 0 || strcmp(dot, ".conf") == 0 ||
            strcmp(dot, ".json") == 0);
}

/* Loads the first valid config of the conf dir into R (lock held).  */
static void load_network(struct cni_runner *r)
{
    json_decref(r->network);
    r->network = NULL;
    free(r->why_not);
    r->why_not = NULL;
    struct dirent **names = NULL;
    int n = scandir(r->conf_dir, &names, NULL, by_name);
    if (n < 0) {
        r->why_not = xasprintf("cni config uninitialized: cannot read %s", r->conf_dir);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (r->network == NULL && is_config_name(names[i]->d_name)) {
            cleanup_free char *path = xasprintf("%s/%s", r->conf_dir, names[i]->d_name);
            json_auto_t *raw = json_load_file(path, 0, NULL);
            cleanup_free char *text = raw ? json_dumps(raw, 0) : NULL;
            crimp_error_t err = NULL;
            r->network = text ? cni_parse_config(path, text, &err) : NULL;
            if (r->network == NULL)
                log_warn("cni: skipping %s: %s", path, err ? err->msg : "not JSON");
            crimp_error_release(&err);
        }
        free(names[i]);
    }
    free(names);
    if (r->network == NULL)
        r->why_not = xasprintf("cni config uninitialized: no network config in %s", r->conf_dir);
}

/* The network in use (new reference), reloaded when the dir changed.  */
static json_t *current_network(struct cni_runner *r, char **why)
{
    struct stat st;
    pthread_mutex_lock(&r->lock);
    if (stat(r->conf_dir, &st) < 0) {
        memset(&r->conf_mtime, 0, sizeof(r->conf_mtime));
        load_network(r);
    } else if (st.st_mtim.tv_sec != r->conf_mtime.tv_sec ||
               st.st_mtim.tv_nsec != r->conf_mtime.tv_nsec || r->network == NULL) {
        r->conf_mtime = st.st_mtim;
        load_network(r);
    }
    json_t *net = json_incref(r->network);
    if (net == NULL && why)
        *why = xstrdup(r->why_not);
    pthread_mutex_unlock(&r->lock);
    return net;
}

bool cni_runner_ready(struct cni_runner *r, char **why)
{
    json_auto_t *net = current_network(r, why);
    return net != NULL;
}

json_t *cni_plugin_config(json_t *conflist, size_t index, json_t *prev_result,
                          const struct cni_attachment *a)
{
    json_t *plugin = json_array_get(json_object_get(conflist, "plugins"), index);
    json_t *conf = json_deep_copy(plugin);
    json_object_set(conf, "name", json_object_get(conflist, "name"));
    json_object_set(conf, "cniVersion", json_object_get(conflist, "cniVersion"));
    if (prev_result)
        json_object_set(conf, "prevResult", prev_result);
    json_t *caps = json_object_get(plugin, "capabilities");
    json_t *rc = json_object();
    if (a->port_mappings && json_is_true(json_object_get(caps, "portMappings")))
        json_object_set(rc, "portMappings", a->port_mappings);
    if (a->bandwidth && json_is_true(json_object_get(caps, "bandwidth")))
        json_object_set(rc, "bandwidth", a->bandwidth);
    if (json_object_size(rc) > 0)
        json_object_set_new(conf, "runtimeConfig", rc);
    else
        json_decref(rc);
    return conf;
}

char *cni_plugin_error(const char *plugin, const char *command, const char *out,
                       const char *errout, int status)
{
    json_auto_t *j = out ? json_loads(out, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "msg"));
    const char *details = json_string_value(json_object_get(j, "details"));
    if (msg != NULL)
        return xasprintf("cni: plugin %s %s failed: %s%s%s", plugin, command, msg,
                         str_empty(details) ? "" : ": ", str_empty(details) ? "" : details);
    if (!str_empty(errout))
        return xasprintf("cni: plugin %s %s failed (exit %d): %.*s", plugin, command, status,
                         (int)strcspn(errout, "\n"), errout);
    return xasprintf("cni: plugin %s %s failed (exit %d)", plugin, command, status);
}

static char *cni_args(const struct cni_attachment *a)
{
    return xasprintf("IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
                     "K8S_POD_INFRA_CONTAINER_ID=%s",
                     a->pod_namespace ? a->pod_namespace : "", a->pod_name ? a->pod_name : "",
                     a->container_id);
}

/* Runs plugin INDEX of CONFLIST; for ADD, *RESULT takes its result.  */
static int run_plugin(struct cni_runner *r, json_t *conflist, size_t index, const char *command,
                      const char *ifname, const struct cni_attachment *a, json_t *prev,
                      json_t **result, crimp_error_t *err)
{
    json_auto_t *conf = cni_plugin_config(conflist, index, prev, a);
    cleanup_free char *text = json_dumps(conf, JSON_COMPACT);
    cleanup_free char *args = cni_args(a);
    const char *type = json_string_value(json_object_get(conf, "type"));
    struct cni_invocation inv = {type, command, a->container_id, a->netns, ifname, args,
                                 r->bin_dirs, r->timeout_seconds};
    struct cni_output out;
    if (cni_exec_plugin(&inv, text, &out, err) < 0)
        return -1;
    int rc = 0;
    if (out.status != 0) {
        cleanup_free char *msg = cni_plugin_error(type, command, out.out, out.err, out.status);
        rc = crimp_make_error(err, GRPC_STATUS_UNKNOWN, 0, "%s", msg);
    } else if (result != NULL) {
        *result = out.out ? json_loads(out.out, 0, NULL) : NULL;
        if (*result == NULL)
            rc = crimp_make_error(err, GRPC_STATUS_INTERNAL, 0,
                                  "cni: plugin %s %s printed no result", type, command);
    }
    cni_output_release(&out);
    return rc;
}

/* ADD of one network: every plugin in order, each result the next one's
 * prevResult.  On failure the plugins that ran are DELeted again.  */
static int add_network(struct cni_runner *r, json_t *conflist, const char *ifname,
                       const struct cni_attachment *a, json_t **result, crimp_error_t *err)
{
    size_t n = json_array_size(json_object_get(conflist, "plugins"));
    json_t *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *res = NULL;
        if (run_plugin(r, conflist, i, "ADD", ifname, a, prev, &res, err) < 0) {
            for (size_t k = i + 1; k-- > 0;) {
                crimp_error_t ignored = NULL;
                run_plugin(r, conflist, k, "DEL", ifname, a, prev, NULL, &ignored);
                crimp_error_release(&ignored);
            }
            json_decref(prev);
            return -1;
        }
        json_decref(prev);
        prev = res;
    }
    *result = prev;
    return 0;
}

static int del_network(struct cni_runner *r, json_t *conflist, const char *ifname,
                       const struct cni_attachment *a, json_t *prev, crimp_error_t *err)
{
    size_t n = json_array_size(json_object_get(conflist, "plugins"));
    for (size_t k = n; k-- > 0;)
        if (run_plugin(r, conflist, k, "DEL", ifname, a, prev, NULL, err) < 0)
            return -1;
    return 0;
}

static char *cache_id(const struct cni_attachment *a)
{
    return xasprintf("%s-%s", a->container_id, a->ifname ? a->ifname : "eth0");
}

int cni_add(struct cni_runner *r, const struct cni_attachment *a, json_t **result,
            crimp_error_t *err)
{
    cleanup_free char *why = NULL;
    json_auto_t *net = current_network(r, &why);
    if (net == NULL)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0, "%s", why);
    json_auto_t *lo = json_loads(LOOPBACK_CONFLIST, 0, NULL);
    json_auto_t *lo_result = NULL;
    if (add_network(r, lo, "lo", a, &lo_result, err) < 0)
        return -1;
    /* Cached before the ADD so that a crash in between still gets a DEL.  */
    cleanup_free char *id = cache_id(a);
    json_t *entry = json_pack("{s:O, s:s, s:O*, s:O*}", "network", net, "ifname",
                              a->ifname ? a->ifname : "eth0", "portMappings", a->port_mappings,
                              "bandwidth", a->bandwidth);
    if (crimp_checkpoint_write(r->cache_dir, id, entry, err) < 0) {
        json_decref(entry);
        return -1;
    }
    json_t *res = NULL;
    if (add_network(r, net, a->ifname ? a->ifname : "eth0", a, &res, err) < 0) {
        json_decref(entry);
        crimp_checkpoint_remove(r->cache_dir, id, NULL);
        return -1;
    }
    json_object_set(entry, "result", res);
    crimp_error_t werr = NULL;
    if (crimp_checkpoint_write(r->cache_dir, id, entry, &werr) < 0) {
        log_warn("cni: %s: result not cached: %s", a->container_id, werr->msg);
        crimp_error_release(&werr);
    }
    json_decref(entry);
    *result = res;
    return 0;
}

int cni_del(struct cni_runner *r, const struct cni_attachment *a, crimp_error_t *err)
{
    cleanup_free char *id = cache_id(a);
    json_auto_t *entry = NULL;
    crimp_error_t rerr = NULL;
    if (crimp_checkpoint_read(r->cache_dir, id, &entry, &rerr) < 0) {
        bool none = rerr->code == GRPC_STATUS_NOT_FOUND;
        if (!none && rerr->code != GRPC_STATUS_DATA_LOSS) {
            /* Unreadable now, not corrupt: the caller tries again later.  */
            *err = steal_ptr(&rerr);
            return crimp_error_wrap(err, "CNI cache of `%s`", a->container_id);
        }
        crimp_error_release(&rerr);
        /* No entry (crimp's state was lost, or another crimpd made the pod)
         * or a corrupt one: DEL with today's config and no prevResult, as
         * libcni does without a cache, so that the IPAM plugin frees the
         * address.  DEL is idempotent: a pod never added costs a run.  */
        log_info("cni: %s: %s CNI cache entry; DEL with the current network config",
                 a->container_id, none ? "no" : "a corrupt");
        entry = json_pack("{s:o*}", "network", current_network(r, NULL));
    }
    json_t *net = json_object_get(entry, "network");
    struct cni_attachment cached = *a;
    cached.port_mappings = json_object_get(entry, "portMappings") ?: a->port_mappings;
    cached.bandwidth = json_object_get(entry, "bandwidth") ?: a->bandwidth;
    if (net && del_network(r, net, a->ifname ? a->ifname : "eth0", &cached,
                           json_object_get(entry, "result"), err) < 0)
        return -1;
    json_auto_t *lo = json_loads(LOOPBACK_CONFLIST, 0, NULL);
    crimp_error_t lerr = NULL;
    if (del_network(r, lo, "lo", a, NULL, &lerr) < 0) {
        /* The loopback goes with the netns; nothing leaks if this fails.  */
        log_debug("cni: %s: loopback DEL: %s", a->container_id, lerr->msg);
        crimp_error_release(&lerr);
    }
    return crimp_checkpoint_remove(r->cache_dir, id, err);
}

int cni_check(struct cni_runner *r, const struct cni_attachment *a, crimp_error_t *err)
{
    cleanup_free char *id = cache_id(a);
    json_auto_t *entry = NULL;
    if (crimp_checkpoint_read(r->cache_dir, id, &entry, err) < 0)
        return -1;
    json_t *net = json_object_get(entry, "network");
    size_t n = json_array_size(json_object_get(net, "plugins"));
    for (size_t i = 0; i < n; i++)
        if (run_plugin(r, net, i, "CHECK", a->ifname ? a->ifname : "eth0", a,
                       json_object_get(entry, "result"), NULL, err) < 0)
            return -1;
    return 0;
}

/* Appends the addresses of RESULT's "ips" (0.3+) or "ip4"/"ip6" (0.2) whose
 * family matches WANT_V6.  */
static size_t collect_ips(json_t *result, bool want_v6, char **ips, size_t n, size_t max)
{
    json_t *list = json_object_get(result, "ips");
    size_t i;
    json_t *ip;
    json_array_foreach (list, i, ip) {
        const char *addr = json_string_value(json_object_get(ip, "address"));
        if (addr && n < max && (strchr(addr, ':') != NULL) == want_v6)
            ips[n++] = strndup(addr, strcspn(addr, "/"));
    }
    const char *legacy = json_string_value(
        json_object_get(json_object_get(result, want_v6 ? "ip6" : "ip4"), "ip"));
    if (legacy && n < max)
        ips[n++] = strndup(legacy, strcspn(legacy, "/"));
    return n;
}

size_t cni_result_ips(json_t *result, char **ips, size_t max)
{
    size_t n = collect_ips(result, false, ips, 0, max);
    return collect_ips(result, true, ips, n, max);
}

struct cni_attachment cni_pod_attachment(const char *id, const char *netns,
                                         const char *pod_namespace, const char *pod_name,
                                         json_t *port_mappings)
{
    return (struct cni_attachment){
        .container_id = id,
        .netns = netns ? netns : "",
        .ifname = "eth0",
        .pod_namespace = pod_namespace,
        .pod_name = pod_name,
        .port_mappings = port_mappings,
    };
}
