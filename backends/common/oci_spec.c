/* The default spec, machine facts, pieces every spec uses, and the
 * sandbox (pause) spec, after containerd 1.6's CRI plugin
 * (sandbox_run_linux.go, oci/spec.go, oci/mounts.go).  */
#include "oci-internal.h"

#include <linux/magic.h>
#include <pthread.h>
#include <sys/vfs.h>

#include "cgroup.h"
#include "pbutil.h"
#include "pod.h"
#include "utils.h"

/* ---- machine facts ----------------------------------------------------- */

/* Names by capability number, as <linux/capability.h> numbers them.  */
/* clang-format off */
static const char *const CAP_NAMES[] = {
    /*  0 */ "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    /*  4 */ "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
    /*  8 */ "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    /* 12 */ "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    /* 16 */ "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    /* 20 */ "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    /* 24 */ "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    /* 28 */ "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
    /* 32 */ "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    /* 36 */ "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    /* 40 */ "CAP_CHECKPOINT_RESTORE",
};

/* containerd's default set (oci/spec_opts_linux.go defaultUnixCaps).  */
static const char *const DEFAULT_CAPS[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
    "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL", "CAP_AUDIT_WRITE",
};
/* clang-format on */

json_t *oci_caps_of_mask(uint64_t mask)
{
    json_t *a = json_array();
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(CAP_NAMES); i++)
        if (mask & (1ULL << i))
            json_array_append_new(a, json_string(CAP_NAMES[i]));
    return a;
}

static bool read_small(const char *path, char *buf, size_t size)
{
    cleanup_file FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    return true;
}

/* What "all capabilities" means, as containerd's cap.Current(): the
 * effective set of this process, which on a machine with a reduced
 * bounding set is less than the kernel knows (runc would refuse more),
 * limited to cap_last_cap.  */
static uint64_t probe_caps(void)
{
    char buf[4096];
    uint64_t mask = (1ULL << CRIMP_ARRAY_SIZE(CAP_NAMES)) - 1;
    if (read_small("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf))) {
        int last = atoi(buf);
        if (last >= 0 && last < 63)
            mask &= (1ULL << (last + 1)) - 1;
    }
    if (read_small("/proc/self/status", buf, sizeof(buf))) {
        const char *p = strstr(buf, "\nCapEff:");
        if (p)
            mask &= strtoull(p + strlen("\nCapEff:"), NULL, 16);
    }
    return mask;
}

static bool probe_swap(bool cgroup2)
{
    if (!cgroup2)
        return access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
    /* v2 has memory.swap.max in every non-root cgroup when swap
     * accounting is on; look at our own, as containerd does.  */
    char buf[4096];
    if (!read_small("/proc/self/cgroup", buf, sizeof(buf)))
        return false;
    cleanup_free char *path = crimp_cgroup_path_for(buf, "");
    if (path == NULL)
        return false;
    cleanup_free char *file = xasprintf("/sys/fs/cgroup%s/memory.swap.max", path);
    return access(file, F_OK) == 0;
}

static bool probe_hugetlb(bool cgroup2)
{
    char buf[512];
    if (!cgroup2)
        return access("/sys/fs/cgroup/hugetlb", F_OK) == 0;
    return read_small("/sys/fs/cgroup/cgroup.controllers", buf, sizeof(buf)) &&
           strstr(buf, "hugetlb") != NULL;
}

static struct oci_host_facts probed;
static const struct oci_host_facts *override;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe_facts(void)
{
    struct statfs fs;
    char buf[8] = "";
    probed.caps = probe_caps();
    probed.cgroup2 = statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
    probed.swap = probe_swap(probed.cgroup2);
    probed.hugetlb = probe_hugetlb(probed.cgroup2);
    probed.apparmor =
        read_small("/sys/module/apparmor/parameters/enabled", buf, sizeof(buf)) && buf[0] == 'Y';
}

const struct oci_host_facts *oci_host_facts(void)
{
    if (override)
        return override;
    pthread_once(&probe_once, probe_facts);
    return &probed;
}

void oci_host_facts_override(const struct oci_host_facts *facts)
{
    override = facts;
}

/* ---- the default spec -------------------------------------------------- */

/* containerd's defaultMounts() without /run, and the OCI defaults runc
 * spec writes for masked and read-only paths.  */
static const char BASE_SPEC[] =
    "{\"ociVersion\": \"1.0.2\","
    " \"process\": {\"user\": {\"uid\": 0, \"gid\": 0}, \"cwd\": \"/\","
    "   \"noNewPrivileges\": true},"
    " \"root\": {\"path\": \"rootfs\"},"
    " \"mounts\": ["
    "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
    "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
    "   \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},"
    "  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
    "   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\","
    "                 \"gid=5\"]},"
    "  {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},"
    "  {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},"
    "  {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
    "   \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]}],"
    " \"linux\": {"
    "  \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},"
    "  \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"},"
    "                   {\"type\": \"mount\"}, {\"type\": \"network\"}],"
    "  \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\","
    "    \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\","
    "    \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],"
    "  \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\","
    "    \"/proc/sysrq-trigger\"]}}";

json_t *oci_base_spec(void)
{
    json_t *spec = json_loads(BASE_SPEC, 0, NULL);
    json_t *caps = json_object();
    json_t *list = json_array();
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(DEFAULT_CAPS); i++)
        json_array_append_new(list, json_string(DEFAULT_CAPS[i]));
    json_object_set_new(caps, "bounding", json_deep_copy(list));
    json_object_set_new(caps, "effective", json_deep_copy(list));
    json_object_set_new(caps, "permitted", list);
    json_object_set_new(json_object_get(spec, "process"), "capabilities", caps);
    return spec;
}

/* ---- pieces -------------------------------------------------------------- */

json_t *oci_string_array(char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

void oci_env_set(json_t *env, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t klen = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < json_array_size(env); i++) {
        const char *e = json_string_value(json_array_get(env, i));
        if (e == NULL || strncmp(e, entry, klen) != 0 || (e[klen] != '=' && e[klen] != '\0'))
            continue;
        if (eq)
            json_array_set_new(env, i, json_string(entry));
        else
            json_array_remove(env, i);
        return;
    }
    if (eq)
        json_array_append_new(env, json_string(entry));
}

/* The index of namespace TYPE in linux.namespaces of SPEC (the list's
 * size when absent).  */
static size_t namespace_index(json_t *spec, const char *type)
{
    json_t *list = json_object_get(json_object_get(spec, "linux"), "namespaces");
    size_t i = 0;
    while (i < json_array_size(list) &&
           strcmp(json_string_value(json_object_get(json_array_get(list, i), "type")), type) != 0)
        i++;
    return i;
}

void oci_namespace_set(json_t *spec, const char *type, const char *path)
{
    json_t *ns = json_pack("{s:s}", "type", type);
    if (path)
        json_object_set_new(ns, "path", json_string(path));
    json_t *list = oci_member_array(oci_member(spec, "linux"), "namespaces");
    size_t i = namespace_index(spec, type);
    if (i < json_array_size(list))
        json_array_set_new(list, i, ns);
    else
        json_array_append_new(list, ns);
}

void oci_namespace_remove(json_t *spec, const char *type)
{
    json_array_remove(json_object_get(json_object_get(spec, "linux"), "namespaces"),
                      namespace_index(spec, type));
}

json_t *oci_bind_mount(const char *src, const char *dst, const char *const *options)
{
    json_t *opts = json_array();
    for (size_t i = 0; options[i]; i++)
        json_array_append_new(opts, json_string(options[i]));
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "bind", "source", src,
                     "options", opts);
}

void oci_mounts_remove(json_t *spec, const char *dst)
{
    json_t *mounts = json_object_get(spec, "mounts");
    for (size_t i = 0; i < json_array_size(mounts);) {
        const char *d =
            json_string_value(json_object_get(json_array_get(mounts, i), "destination"));
        if (d && strcmp(d, dst) == 0)
            json_array_remove(mounts, i);
        else
            i++;
    }
}

json_t *oci_member(json_t *obj, const char *key)
{
    json_t *m = json_object_get(obj, key);
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, key, m);
    }
    return m;
}

json_t *oci_member_array(json_t *obj, const char *key)
{
    json_t *m = json_object_get(obj, key);
    if (!json_is_array(m)) {
        m = json_array();
        json_object_set_new(obj, key, m);
    }
    return m;
}

static void fill_cpu(json_t *res, const Runtime__V1__LinuxContainerResources *r)
{
    if (r->cpu_period == 0 && r->cpu_quota == 0 && r->cpu_shares == 0 &&
        str_empty(r->cpuset_cpus) && str_empty(r->cpuset_mems))
        return;
    json_t *cpu = oci_member(res, "cpu");
    if (r->cpu_shares != 0)
        json_object_set_new(cpu, "shares", json_integer(r->cpu_shares));
    if (r->cpu_quota != 0)
        json_object_set_new(cpu, "quota", json_integer(r->cpu_quota));
    if (r->cpu_period != 0)
        json_object_set_new(cpu, "period", json_integer(r->cpu_period));
    if (!str_empty(r->cpuset_cpus))
        json_object_set_new(cpu, "cpus", json_string(r->cpuset_cpus));
    if (!str_empty(r->cpuset_mems))
        json_object_set_new(cpu, "mems", json_string(r->cpuset_mems));
}

void oci_resources_fill(json_t *res, const Runtime__V1__LinuxContainerResources *r)
{
    const struct oci_host_facts *facts = oci_host_facts();
    fill_cpu(res, r);
    /* Swap equal to the limit keeps the container from swapping, as
     * containerd does when the swap controller exists.  */
    int64_t swap =
        r->memory_swap_limit_in_bytes ? r->memory_swap_limit_in_bytes : r->memory_limit_in_bytes;
    if (r->memory_limit_in_bytes != 0)
        json_object_set_new(oci_member(res, "memory"), "limit",
                            json_integer(r->memory_limit_in_bytes));
    if (swap != 0 && facts->swap)
        json_object_set_new(oci_member(res, "memory"), "swap", json_integer(swap));
    /* Without the controller containerd (tolerate_missing_hugetlb_controller)
     * leaves the limits out.  */
    if (r->n_hugepage_limits > 0 && facts->hugetlb) {
        json_t *h = json_array();
        for (size_t i = 0; i < r->n_hugepage_limits; i++)
            json_array_append_new(h, json_pack("{s:s, s:I}", "pageSize",
                                               r->hugepage_limits[i]->page_size, "limit",
                                               (json_int_t)r->hugepage_limits[i]->limit));
        json_object_set_new(res, "hugepageLimits", h);
    }
    if (r->n_unified > 0) {
        json_auto_t *u = crimp_pb_map_to_json((void *const *)r->unified, r->n_unified);
        json_object_update(oci_member(res, "unified"), u);
    }
}

json_t *oci_linux_resources(const Runtime__V1__LinuxContainerResources *r)
{
    json_t *res = json_object();
    if (r)
        oci_resources_fill(res, r);
    return res;
}

json_t *oci_exec_process(json_t *spec, char *const *args, size_t n_args, bool terminal)
{
    json_t *process = json_deep_copy(json_object_get(spec, "process"));
    if (process == NULL)
        process = json_object();
    json_object_set_new(process, "args", oci_string_array(args, n_args));
    json_object_set_new(process, "terminal", json_boolean(terminal));
    if (terminal)
        oci_env_set(oci_member_array(process, "env"), "TERM=xterm");
    return process;
}

/* ---- image config ---------------------------------------------------- */

const char *oci_image_string(json_t *image_config, const char *key)
{
    return json_string_value(json_object_get(image_config, key));
}

json_t *oci_image_env(json_t *image_config)
{
    json_t *env = json_array();
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(image_config, "Env"), i, v) if (json_is_string(v))
        oci_env_set(env, json_string_value(v));
    return env;
}

void oci_set_annotation(json_t *spec, const char *key, const char *value)
{
    json_object_set_new(oci_member(spec, "annotations"), key, json_string(value ? value : ""));
}

/* ---- the sandbox spec -------------------------------------------------- */

static const Runtime__V1__LinuxSandboxSecurityContext *
pod_security(const Runtime__V1__PodSandboxConfig *cfg)
{
    return cfg->linux ? cfg->linux->security_context : NULL;
}

static int sandbox_user(json_t *process, const Runtime__V1__PodSandboxConfig *cfg,
                        const struct oci_sandbox_params *p, crimp_error_t *err)
{
    const Runtime__V1__LinuxSandboxSecurityContext *sc = pod_security(cfg);
    cleanup_free char *user = NULL;
    if (sc) {
        user = oci_cri_user_string(sc->run_as_user, NULL, sc->run_as_group, err);
        if (user == NULL && *err != NULL)
            return -1;
    }
    const char *userstr = user ? user : oci_image_string(p->image_config, "User");
    return oci_process_set_user(process, str_empty(userstr) ? NULL : userstr, p->passwd, p->group,
                                sc ? sc->supplemental_groups : NULL,
                                sc ? sc->n_supplemental_groups : 0, err);
}

static int sandbox_process(json_t *process, const Runtime__V1__PodSandboxConfig *cfg,
                           const struct oci_sandbox_params *p, crimp_error_t *err)
{
    json_t *args = json_array();
    json_object_set_new(process, "args", args);
    json_array_extend(args, json_object_get(p->image_config, "Entrypoint"));
    json_array_extend(args, json_object_get(p->image_config, "Cmd"));
    if (json_array_size(args) == 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "sandbox image: neither entrypoint nor cmd is set");
    json_object_set_new(process, "env", oci_image_env(p->image_config));
    const char *cwd = oci_image_string(p->image_config, "WorkingDir");
    if (!str_empty(cwd))
        json_object_set_new(process, "cwd", json_string(cwd));
    return sandbox_user(process, cfg, p, err);
}

/* The pod's network namespace, or the host's; host PID and IPC per the
 * namespace options.  Without a network namespace of its own the pause
 * container keeps the host's UTS too (containerd: a hostname needs one).  */
static void sandbox_namespaces(json_t *spec, const Runtime__V1__PodSandboxConfig *cfg,
                               const struct oci_sandbox_params *p)
{
    const Runtime__V1__LinuxSandboxSecurityContext *sc = pod_security(cfg);
    const Runtime__V1__NamespaceOption *ns = sc ? sc->namespace_options : NULL;
    if (crimp_pod_host_network(cfg)) {
        oci_namespace_remove(spec, "network");
        oci_namespace_remove(spec, "uts");
    } else {
        oci_namespace_set(spec, "network", p->netns_path);
        if (!str_empty(cfg->hostname))
            json_object_set_new(spec, "hostname", json_string(cfg->hostname));
    }
    if (ns && ns->pid == RUNTIME__V1__NAMESPACE_MODE__NODE)
        oci_namespace_remove(spec, "pid");
    if (ns && ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE)
        oci_namespace_remove(spec, "ipc");
}

static void sandbox_mounts(json_t *spec, const struct oci_sandbox_params *p)
{
    /* nosuid,nodev,noexec: a remount inside a user namespace needs them.  */
    static const char *const shm_opts[] = {"rbind", "ro", "nosuid", "nodev", "noexec", NULL};
    static const char *const ro_opts[] = {"rbind", "ro", NULL};
    json_t *mounts = json_object_get(spec, "mounts");
    oci_mounts_remove(spec, "/dev/shm");
    json_array_append_new(
        mounts, oci_bind_mount(p->shm_path ? p->shm_path : "/dev/shm", "/dev/shm", shm_opts));
    if (p->resolv_conf_path)
        json_array_append_new(mounts,
                              oci_bind_mount(p->resolv_conf_path, "/etc/resolv.conf", ro_opts));
    if (p->hosts_path)
        json_array_append_new(mounts, oci_bind_mount(p->hosts_path, "/etc/hosts", ro_opts));
}

static void sandbox_annotations(json_t *spec, const Runtime__V1__PodSandboxConfig *cfg,
                                const struct oci_sandbox_params *p)
{
    oci_set_annotation(spec, CRI_ANNOTATION "container-type", "sandbox");
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-id", p->id);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-namespace", cfg->metadata->namespace_);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-uid", cfg->metadata->uid);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-name", cfg->metadata->name);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-log-directory", cfg->log_directory);
    const Runtime__V1__LinuxContainerResources *r = cfg->linux ? cfg->linux->resources : NULL;
    if (r == NULL)
        return;
    const struct {
        const char *key;
        int64_t value;
    } res[] = {{CRI_ANNOTATION "sandbox-cpu-period", r->cpu_period},
               {CRI_ANNOTATION "sandbox-cpu-quota", r->cpu_quota},
               {CRI_ANNOTATION "sandbox-cpu-shares", r->cpu_shares},
               {CRI_ANNOTATION "sandbox-memory", r->memory_limit_in_bytes}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(res); i++) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)res[i].value);
        oci_set_annotation(spec, res[i].key, buf);
    }
}

static int sandbox_security(json_t *spec, const Runtime__V1__PodSandboxConfig *cfg,
                            crimp_error_t *err)
{
    const Runtime__V1__LinuxSandboxSecurityContext *sc = pod_security(cfg);
    if (sc && sc->privileged)
        return 0;
    json_t *caps = json_object_get(
        json_object_get(json_object_get(spec, "process"), "capabilities"), "effective");
    json_t *seccomp = NULL;
    if (oci_seccomp_for(sc ? sc->seccomp : NULL, sc ? sc->seccomp_profile_path : NULL, caps, NULL,
                        &seccomp, err) < 0)
        return -1;
    if (seccomp)
        json_object_set_new(json_object_get(spec, "linux"), "seccomp", seccomp);
    return 0;
}

json_t *oci_sandbox_spec(const Runtime__V1__PodSandboxConfig *cfg,
                         const struct oci_sandbox_params *p, crimp_error_t *err)
{
    if (cfg->metadata == NULL) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "sandbox config: no metadata");
        return NULL;
    }
    json_auto_t *spec = oci_base_spec();
    json_t *linux = json_object_get(spec, "linux");
    json_object_set_new(json_object_get(spec, "root"), "readonly", json_true());
    if (sandbox_process(json_object_get(spec, "process"), cfg, p, err) < 0)
        return NULL;
    sandbox_namespaces(spec, cfg, p);
    sandbox_mounts(spec, p);
    json_object_set_new(oci_member(json_object_get(linux, "resources"), "cpu"), "shares",
                        json_integer(2));
    if (p->cgroups_path)
        json_object_set_new(linux, "cgroupsPath", json_string(p->cgroups_path));
    json_object_set_new(json_object_get(spec, "process"), "oomScoreAdj",
                        json_integer(p->oom_score_adj));
    if (cfg->linux && cfg->linux->n_sysctls > 0)
        json_object_set_new(
            linux, "sysctl",
            crimp_pb_map_to_json((void *const *)cfg->linux->sysctls, cfg->linux->n_sysctls));
    if (sandbox_security(spec, cfg, err) < 0)
        return NULL;
    sandbox_annotations(spec, cfg, p);
    return steal_ptr(&spec);
}
