/* The backend option schema and its checks (options.h).  */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"

static const char *const PRIVILEGED[] = {"auto", "native", "emulate", NULL};
static const char *const CGROUP_DRIVERS[] = {"systemd", "cgroupfs", NULL};

#define BOTH "docker containerd"
/* clang-format off */
const struct crimp_option_spec crimp_backend_options[] = {
    {"pause_image", BOTH, CRIMP_OPTION_STRING, "registry.k8s.io/pause:3.10", 0, 0, NULL, false,
     "the image of each pod's sandbox (pause) container"},
    {"cni_bin_dirs", BOTH, CRIMP_OPTION_STRING, "/opt/cni/bin:/usr/lib/cni", 0, 0, NULL, false,
     "where CNI plugins are looked for, colon-separated"},
    {"cni_conf_dir", BOTH, CRIMP_OPTION_STRING, "/etc/cni/net.d", 0, 0, NULL, false,
     "the CNI network configuration directory (the first file in name order is used)"},
    {"cni_timeout", BOTH, CRIMP_OPTION_INT, "220", 0, 3600, NULL, false,
     "seconds one CNI plugin may run (0: the default)"},
    {"oom_score_adj_min", BOTH, CRIMP_OPTION_INT, "auto", -1000, 1000, NULL, false,
     "the lowest oom_score_adj given to a container (auto: the lowest this host accepts)"},
    {"fs_usage_refresh_seconds", BOTH, CRIMP_OPTION_INT, "10", 0, 86400, NULL, false,
     "how old a writable layer's disk usage figure may get"},
    {"log_drain_ms", BOTH, CRIMP_OPTION_INT, "2000", 0, 600000, NULL, false,
     "how long a container's exit waits for the last of its output"},
    {"privileged", "docker", CRIMP_OPTION_STRING, "auto", 0, 0, PRIVILEGED, false,
     "privileged containers: native (Docker's), emulate (the capabilities the bounding set "
     "has), auto (emulate only when the bounding set lacks one Docker grants)"},
    {"cri_dockerd_root", "docker", CRIMP_OPTION_STRING, "/var/lib/cri-dockerd", 0, 0, NULL, true,
     "cri-dockerd's root directory, read to adopt its pods (\"\": none)"},
    {"namespace", "containerd", CRIMP_OPTION_STRING, "k8s.io", 0, 0, NULL, false,
     "the containerd namespace crimp's pods, containers and images live in"},
    {"snapshotter", "containerd", CRIMP_OPTION_STRING, "overlayfs", 0, 0, NULL, false,
     "the containerd snapshotter for image layers and container roots"},
    {"runtime", "containerd", CRIMP_OPTION_STRING, "io.containerd.runc.v2", 0, 0, NULL, false,
     "the containerd runtime (shim) of every task"},
    {"shim_address", "containerd", CRIMP_OPTION_STRING, NULL, 0, 0, NULL, false,
     "the containerd socket path its shims are given (-address), to find shims left idle in "
     "the namespace (default: the endpoint's path; set it when the endpoint is a proxy)"},
    {"insecure_registries", "containerd", CRIMP_OPTION_STRING_LIST, NULL, 0, 0, NULL, false,
     "\"host[:port]\" registries pulled from over plain HTTP or unverified TLS (default none)"},
    {"registry_config_path", "containerd", CRIMP_OPTION_STRING, "/etc/containerd/certs.d", 0, 0,
     NULL, false, "containerd's certs.d/<host>/hosts.toml tree: mirrors, CAs, client certificates"},
    {"cgroup_driver", "containerd cri", CRIMP_OPTION_STRING, NULL, 0, 0, CGROUP_DRIVERS, false,
     "the node's cgroup driver (default from the host: systemd as PID 1 on cgroup v2, else "
     "cgroupfs)"},
    {NULL, NULL, 0, NULL, 0, 0, NULL, false, NULL},
};
/* clang-format on */

const struct crimp_option_spec *crimp_option_find(const char *key)
{
    for (const struct crimp_option_spec *s = crimp_backend_options; key && s->key; s++)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

/* Whether TYPE is a word of the space-separated list TYPES.  */
static bool takes(const struct crimp_option_spec *s, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = s->types; (p = strstr(p, type)) != NULL; p += n)
        if ((p == s->types || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
    return false;
}

/* Appends WORD to the comma-separated *LIST.  */
static void append_word(char **list, const char *word)
{
    char *longer = xasprintf("%s%s%s", *list, (*list)[0] ? ", " : "", word);
    free(*list);
    *list = longer;
}

/* The keys TYPE takes, comma-separated (caller frees).  */
static char *keys_of(const char *type)
{
    char *list = xstrdup("");
    for (const struct crimp_option_spec *s = crimp_backend_options; s->key; s++) {
        if (!takes(s, type))
            continue;
        append_word(&list, s->key);
    }
    return list;
}

/* The whole number in V (integer, or a string of one); false if none.  */
static bool int_value(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (s == NULL || *s == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Whether S, a number, may be "auto" (its default, computed at open).  */
static bool takes_auto(const struct crimp_option_spec *s)
{
    return s->dflt && strcmp(s->dflt, "auto") == 0;
}

/* The default of S as a number; false when it has none or it is "auto".  */
static bool default_int(const struct crimp_option_spec *s, long long *out)
{
    if (s->type != CRIMP_OPTION_INT || s->dflt == NULL || takes_auto(s))
        return false;
    *out = strtoll(s->dflt, NULL, 10);
    return true;
}

static bool is_choice(const char *const *choices, const char *v)
{
    for (; *choices; choices++)
        if (strcmp(*choices, v) == 0)
            return true;
    return false;
}

static int check_string_list(const struct crimp_option_spec *s, json_t *v, crimp_error_t *err)
{
    size_t i;
    json_t *e;
    bool ok = json_is_array(v);
    json_array_foreach(v, i, e) ok &= json_is_string(e) && json_string_length(e) > 0;
    if (!ok)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "options.%s: must be a list of non-empty strings", s->key);
    return 0;
}

static int check_value(const struct crimp_option_spec *s, json_t *v, crimp_error_t *err)
{
    long long n = 0;
    switch (s->type) {
    case CRIMP_OPTION_INT:
        if (takes_auto(s) && json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)
            return 0;
        if (!int_value(v, &n))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options.%s: must be a whole number%s", s->key,
                                    takes_auto(s) ? " or \"auto\"" : "");
        if (n < s->min || n > s->max)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options.%s: %lld is not in %lld..%lld", s->key, n, s->min,
                                    s->max);
        return 0;
    case CRIMP_OPTION_STRING:
        if (!json_is_string(v) || (!s->may_be_empty && json_string_length(v) == 0))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options.%s: must be a %sstring", s->key,
                                    s->may_be_empty ? "" : "non-empty ");
        if (s->choices && !is_choice(s->choices, json_string_value(v))) {
            cleanup_free char *list = xstrdup("");
            for (const char *const *c = s->choices; *c; c++) {
                append_word(&list, *c);
            }
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options.%s: `%s` is not one of %s", s->key,
                                    json_string_value(v), list);
        }
        return 0;
    case CRIMP_OPTION_STRING_LIST:
        return check_string_list(s, v, err);
    }
    return 0;
}

int crimp_options_check(const char *type, json_t *options, crimp_error_t *err)
{
    if (options != NULL && !json_is_object(options))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "options: must be an object");
    const char *key;
    json_t *v;
    json_object_foreach(options, key, v)
    {
        const struct crimp_option_spec *s = crimp_option_find(key);
        if (s == NULL || !takes(s, type)) {
            cleanup_free char *keys = keys_of(type);
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "options: unknown key `%s` (%s takes %s)", key, type,
                                    keys[0] ? keys : "none");
        }
        if (check_value(s, v, err) < 0)
            return -1;
    }
    return 0;
}

json_t *crimp_options_with_defaults(const char *type, json_t *options)
{
    json_t *all = json_object();
    for (const struct crimp_option_spec *s = crimp_backend_options; s->key; s++) {
        json_t *v = json_object_get(options, s->key);
        long long n = 0;
        if (v != NULL)
            json_object_set(all, s->key, v);
        else if (s->dflt && takes(s, type))
            json_object_set_new(all, s->key,
                                default_int(s, &n) ? json_integer(n) : json_string(s->dflt));
    }
    return all;
}

const char *crimp_option_string(json_t *options, const char *key)
{
    const char *v = json_string_value(json_object_get(options, key));
    const struct crimp_option_spec *s = crimp_option_find(key);
    return v ? v : s ? s->dflt : NULL;
}

long long crimp_option_int(json_t *options, const char *key, long long if_auto)
{
    const struct crimp_option_spec *s = crimp_option_find(key);
    long long n = 0;
    if (int_value(json_object_get(options, key), &n))
        return n;
    return s && default_int(s, &n) ? n : if_auto;
}
