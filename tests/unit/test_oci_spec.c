/* OCI specs from CRI requests: the JSON of realistic container and
 * sandbox requests checked against containerd 1.6's behaviour (namespaces,
 * args and env, mounts, resources, devices, annotations, exec).  Users,
 * capabilities and seccomp are in test_oci_security.c.  */
#include "oci_fixture.h"

/* ---- namespaces -------------------------------------------------------- */

static int test_namespaces_pod_mode_joins_the_sandbox(void)
{
    WITH_FIXTURE(f);
    json_auto_t *s = spec_of(&f);
    CHECK(s != NULL);
    CHECK(is(ns_of(s, "network"), "{\"type\": \"network\", \"path\": \"/proc/42/ns/net\"}"));
    CHECK(is(ns_of(s, "ipc"), "{\"type\": \"ipc\", \"path\": \"/proc/42/ns/ipc\"}"));
    CHECK(is(ns_of(s, "uts"), "{\"type\": \"uts\", \"path\": \"/proc/42/ns/uts\"}"));
    CHECK(is(ns_of(s, "pid"), "{\"type\": \"pid\", \"path\": \"/proc/42/ns/pid\"}"));
    CHECK(is(ns_of(s, "mount"), "{\"type\": \"mount\"}"));
    CHECK(ns_of(s, "cgroup") == NULL); /* cgroup v1 */
    CHECK(json_array_size(at(s, "linux/namespaces")) == 5);
    return 0;
}

static int test_namespaces_container_node_and_target(void)
{
    WITH_FIXTURE(f);
    f.ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
    json_auto_t *own = spec_of(&f);
    CHECK(is(ns_of(own, "pid"), "{\"type\": \"pid\"}"));

    f.ns.network = f.ns.pid = f.ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
    json_auto_t *host = spec_of(&f);
    CHECK(ns_of(host, "network") == NULL && ns_of(host, "uts") == NULL);
    CHECK(ns_of(host, "pid") == NULL && ns_of(host, "ipc") == NULL);
    CHECK(is(at(host, "linux/namespaces"), "[{\"type\": \"mount\"}]"));

    f.ns.network = f.ns.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
    f.ns.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
    f.ns.target_id = "other";
    f.p.target_pid = 77;
    json_auto_t *target = spec_of(&f);
    CHECK(is(ns_of(target, "pid"), "{\"type\": \"pid\", \"path\": \"/proc/77/ns/pid\"}"));
    CHECK(is(ns_of(target, "network"), "{\"type\": \"network\", \"path\": \"/proc/42/ns/net\"}"));
    f.p.target_pid = 0;
    CHECK(refused(&f, "other"));
    return 0;
}

static int test_namespaces_cgroup_v2_and_no_sandbox(void)
{
    WITH_FIXTURE(f);
    struct oci_host_facts v2 = facts;
    v2.cgroup2 = true;
    oci_host_facts_override(&v2);
    json_auto_t *s = spec_of(&f);
    f.pod_sc.privileged = f.sc.privileged = true;
    json_auto_t *priv = spec_of(&f);
    oci_host_facts_override(&facts);
    CHECK(is(ns_of(s, "cgroup"), "{\"type\": \"cgroup\"}"));
    CHECK(ns_of(priv, "cgroup") == NULL);

    f.p.sandbox_pid = 0;
    json_auto_t *alone = spec_of(&f);
    CHECK(is(at(alone, "linux/namespaces"), "[{\"type\": \"pid\"}, {\"type\": \"ipc\"},"
                                            " {\"type\": \"uts\"}, {\"type\": \"mount\"},"
                                            " {\"type\": \"network\"}]"));
    return 0;
}

/* ---- process ----------------------------------------------------------- */

static int test_args_from_command_args_and_image(void)
{
    WITH_FIXTURE(f);
    json_auto_t *image = spec_of(&f);
    CHECK(is(at(image, "process/args"), "[\"/entry\", \"default-arg\"]"));
    char *args[] = {"a1", "a2"}, *cmd[] = {"/bin/cmd"};
    f.cfg.args = args;
    f.cfg.n_args = 2;
    json_auto_t *with_args = spec_of(&f);
    CHECK(is(at(with_args, "process/args"), "[\"/entry\", \"a1\", \"a2\"]"));
    f.cfg.command = cmd;
    f.cfg.n_command = 1;
    f.cfg.n_args = 0;
    json_auto_t *with_cmd = spec_of(&f); /* the image's Cmd goes with its Entrypoint */
    CHECK(is(at(with_cmd, "process/args"), "[\"/bin/cmd\"]"));
    f.cfg.n_command = 0;
    json_object_set_new(f.image_config, "Entrypoint", json_pack("[s]", ""));
    json_auto_t *reset = spec_of(&f);
    CHECK(is(at(reset, "process/args"), "[\"default-arg\"]"));
    json_object_del(f.image_config, "Cmd");
    CHECK(refused(&f, "no command"));
    return 0;
}

static int test_env_cwd_and_tty(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__KeyValue foo = RUNTIME__V1__KEY_VALUE__INIT, nw = RUNTIME__V1__KEY_VALUE__INIT;
    foo.key = "FOO";
    foo.value = (ProtobufCBinaryData){6, (uint8_t *)"config"};
    nw.key = "NEW";
    nw.value = (ProtobufCBinaryData){1, (uint8_t *)"1"};
    Runtime__V1__KeyValue *envs[] = {&foo, &nw};
    f.cfg.envs = envs;
    f.cfg.n_envs = 2;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "process/env"), "[\"PATH=/custom/bin\", \"HOSTNAME=web-host\","
                                   " \"FOO=config\", \"BAR=image\", \"NEW=1\"]"));
    CHECK(is(at(s, "process/cwd"), "\"/work\""));
    CHECK(at(s, "process/terminal") == NULL);
    CHECK(is(at(s, "process/noNewPrivileges"), "false"));
    CHECK(at(s, "process/rlimits") == NULL && at(s, "process/capabilities/ambient") == NULL);
    f.cfg.tty = true;
    f.cfg.working_dir = "/elsewhere";
    f.sc.no_new_privs = true;
    json_object_del(f.image_config, "Env");
    json_auto_t *t = spec_of(&f);
    CHECK(is(at(t, "process/env"), "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                   "/sbin:/bin\", \"TERM=xterm\", \"HOSTNAME=web-host\","
                                   " \"FOO=config\", \"NEW=1\"]"));
    CHECK(is(at(t, "process/terminal"), "true") && is(at(t, "process/cwd"), "\"/elsewhere\""));
    CHECK(is(at(t, "process/noNewPrivileges"), "true"));
    return 0;
}

/* ---- mounts ------------------------------------------------------------ */

static int test_mounts_propagation_sorting_and_shadowing(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__Mount m[4];
    const struct {
        const char *host, *ctr;
        bool ro;
        Runtime__V1__MountPropagation prop;
    } spec[] = {
        {"/var/data", "/data/sub", true,
         RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER},
        {"/host/a", "/data", false, RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE},
        {"/host/shm", "/dev/shm", false, RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL},
        {"/host/hosts", "/etc//hosts/", false,
         RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE}};
    Runtime__V1__Mount *mp[4];
    for (size_t i = 0; i < 4; i++) {
        runtime__v1__mount__init(&m[i]);
        m[i].host_path = (char *)spec[i].host;
        m[i].container_path = (char *)spec[i].ctr;
        m[i].readonly = spec[i].ro;
        m[i].propagation = spec[i].prop;
        mp[i] = &m[i];
    }
    f.cfg.mounts = mp;
    f.cfg.n_mounts = 4;
    f.sc.readonly_rootfs = true;
    json_auto_t *s = spec_of(&f);
    json_t *mounts = json_object_get(s, "mounts");
    const char *order[] = {"/proc",    "/dev",           "/dev/pts",      "/dev/mqueue",
                           "/sys",     "/sys/fs/cgroup", "/data",         "/data/sub",
                           "/dev/shm", "/etc/hosts",     "/etc/hostname", "/etc/resolv.conf"};
    CHECK(json_array_size(mounts) == CRIMP_ARRAY_SIZE(order));
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(order); i++) {
        char path[32];
        snprintf(path, sizeof(path), "%zu/destination", i);
        CHECK(is_str(at(mounts, path), order[i]));
    }
    CHECK(is(mount_of(s, "/data/sub"), "{\"destination\": \"/data/sub\", \"type\": \"bind\","
                                       " \"source\": \"/var/data\","
                                       " \"options\": [\"rbind\", \"rslave\", \"ro\"]}"));
    CHECK(is(at(mount_of(s, "/dev/shm"), "options"), "[\"rbind\", \"rshared\", \"rw\"]"));
    CHECK(is(at(mount_of(s, "/dev/shm"), "source"), "\"/host/shm\""));
    CHECK(is(at(mount_of(s, "/etc/hosts"), "source"), "\"/host/hosts\""));
    CHECK(is(at(mount_of(s, "/etc/resolv.conf"), "options"), "[\"rbind\", \"rprivate\", \"ro\"]"));
    CHECK(is(at(mount_of(s, "/sys/fs/cgroup"), "options"),
             "[\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]"));
    CHECK(is(at(s, "linux/rootfsPropagation"), "\"rshared\""));
    CHECK(is(at(s, "root"), "{\"path\": \"rootfs\", \"readonly\": true}"));

    f.cfg.n_mounts = 1;
    f.sc.readonly_rootfs = false;
    m[0].container_path = "/dev";
    m[0].readonly = false;
    json_auto_t *dev = spec_of(&f);
    CHECK(is(at(dev, "linux/rootfsPropagation"), "\"rslave\""));
    CHECK(mount_of(dev, "/dev/pts") == NULL && mount_of(dev, "/dev/mqueue") == NULL);
    CHECK(is(at(mount_of(dev, "/dev/shm"), "source"), "\"/run/s1/shm\""));
    CHECK(is(at(mount_of(dev, "/dev"), "source"), "\"/var/data\""));
    CHECK(is(at(mount_of(dev, "/etc/hosts"), "options"), "[\"rbind\", \"rprivate\", \"rw\"]"));
    CHECK(at(dev, "root/readonly") == NULL);
    return 0;
}

/* recursive_read_only becomes runc's "rro" where the node can; it needs a
 * read-only private mount, and is refused where the node cannot.  */
static int test_recursive_read_only_mount(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
    Runtime__V1__Mount *mp[] = {&m};
    m.host_path = "/var/data";
    m.container_path = "/data";
    m.readonly = true;
    m.recursive_read_only = true;
    f.cfg.mounts = mp;
    f.cfg.n_mounts = 1;
    f.p.recursive_ro_supported = true;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(mount_of(s, "/data"), "options"), "[\"rbind\", \"rprivate\", \"ro\", \"rro\"]"));
    m.recursive_read_only = false;
    json_auto_t *plain = spec_of(&f);
    CHECK(is(at(mount_of(plain, "/data"), "options"), "[\"rbind\", \"rprivate\", \"ro\"]"));
    m.recursive_read_only = true;
    m.readonly = false;
    CHECK(refused(&f, "recursive_read_only needs readonly"));
    m.readonly = true;
    m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
    CHECK(refused(&f, "private propagation"));
    m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
    f.p.recursive_ro_supported = false;
    CHECK(refused(&f, "recursive read-only mounts are not supported here"));
    return 0;
}

static int test_resources_and_oom_clamp(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__HugepageLimit hp = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
    hp.page_size = "2MB";
    hp.limit = 4194304;
    Runtime__V1__HugepageLimit *hps[] = {&hp};
    Runtime__V1__LinuxContainerResources__UnifiedEntry u =
        RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
    u.key = "memory.high";
    u.value = "1000000";
    Runtime__V1__LinuxContainerResources__UnifiedEntry *us[] = {&u};
    f.res = (Runtime__V1__LinuxContainerResources)RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    f.res.cpu_period = 100000;
    f.res.cpu_quota = 50000;
    f.res.cpu_shares = 512;
    f.res.cpuset_cpus = "0-1";
    f.res.cpuset_mems = "0";
    f.res.memory_limit_in_bytes = 67108864;
    f.res.oom_score_adj = -998;
    f.res.hugepage_limits = hps;
    f.res.n_hugepage_limits = 1;
    f.res.unified = us;
    f.res.n_unified = 1;
    f.p.oom_score_adj_min = 0;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "linux/resources"),
             "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}],"
             " \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000, \"cpus\": \"0-1\","
             "           \"mems\": \"0\"},"
             " \"memory\": {\"limit\": 67108864, \"swap\": 67108864},"
             " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
             " \"unified\": {\"memory.high\": \"1000000\"}}"));
    CHECK(is(at(s, "process/oomScoreAdj"), "0"));
    CHECK(is(at(s, "linux/cgroupsPath"), "\"/k8s.io/c1\""));
    f.res.oom_score_adj = 500;
    struct oci_host_facts bare = facts;
    bare.swap = bare.hugetlb = false;
    oci_host_facts_override(&bare);
    json_auto_t *b = spec_of(&f);
    oci_host_facts_override(&facts);
    CHECK(is(at(b, "process/oomScoreAdj"), "500"));
    CHECK(is(at(b, "linux/resources/memory"), "{\"limit\": 67108864}"));
    CHECK(at(b, "linux/resources/hugepageLimits") == NULL);

    json_auto_t *r = oci_linux_resources(&f.res);
    CHECK(json_equal(at(r, "cpu"), at(s, "linux/resources/cpu")) && at(r, "devices") == NULL);
    Runtime__V1__LinuxContainerResources mem = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    mem.memory_limit_in_bytes = 1 << 20;
    mem.memory_swap_limit_in_bytes = 2 << 20;
    json_auto_t *only_mem = oci_linux_resources(&mem);
    CHECK(is(only_mem, "{\"memory\": {\"limit\": 1048576, \"swap\": 2097152}}"));
    json_auto_t *nothing = oci_linux_resources(NULL);
    CHECK(is(nothing, "{}"));
    return 0;
}

static int test_devices(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__Device d = RUNTIME__V1__DEVICE__INIT;
    Runtime__V1__Device *ds[] = {&d};
    d.host_path = "/dev/null";
    d.container_path = "/dev/xnull";
    d.permissions = "rw";
    f.cfg.devices = ds;
    f.cfg.n_devices = 1;
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "linux/devices"), "[{\"path\": \"/dev/xnull\", \"type\": \"c\", \"major\": 1,"
                                     " \"minor\": 3, \"fileMode\": 438, \"uid\": 0, \"gid\": 0}]"));
    CHECK(is(at(s, "linux/resources/devices/1"),
             "{\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rw\"}"));
    d.host_path = "/nonexistent/dev";
    CHECK(refused(&f, "/nonexistent/dev"));
    d.host_path = "/proc/self/status";
    CHECK(refused(&f, "not a device"));
    return 0;
}

/* ---- annotations, sandbox, exec ---------------------------------------- */

static int test_container_annotations(void)
{
    WITH_FIXTURE(f);
    json_auto_t *s = spec_of(&f);
    CHECK(is(at(s, "annotations"),
             "{\"io.kubernetes.cri.container-type\": \"container\","
             " \"io.kubernetes.cri.sandbox-id\": \"s1\","
             " \"io.kubernetes.cri.sandbox-namespace\": \"default\","
             " \"io.kubernetes.cri.sandbox-uid\": \"uid-1\","
             " \"io.kubernetes.cri.sandbox-name\": \"web\","
             " \"io.kubernetes.cri.container-name\": \"app\","
             " \"io.kubernetes.cri.image-name\": \"docker.io/library/busybox:1.35\"}"));
    CHECK(is(at(s, "ociVersion"), "\"1.0.2\"") && at(s, "hostname") == NULL);
    return 0;
}

static json_t *sandbox_of(struct fixture *f)
{
    crimp_error_t err = NULL;
    json_t *spec = oci_sandbox_spec(&f->pod, &f->sp, &err);
    if (spec == NULL) {
        fprintf(stderr, "  oci_sandbox_spec: %s\n", err->msg);
        crimp_error_release(&err);
    }
    return spec;
}

static int test_sandbox_spec(void)
{
    WITH_FIXTURE(f);
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry sysctl =
        RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
    sysctl.key = "net.ipv4.ip_forward";
    sysctl.value = "1";
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *sysctls[] = {&sysctl};
    f.pod_linux.sysctls = sysctls;
    f.pod_linux.n_sysctls = 1;
    f.pod_linux.resources = &f.res;
    f.res.cpu_shares = 256;
    f.res.memory_limit_in_bytes = 1000;
    f.uid.value = f.gid.value = 65535;
    f.pod_sc.run_as_user = &f.uid;
    f.pod_sc.run_as_group = &f.gid;
    f.pod_sc.seccomp_profile_path = "runtime/default";
    json_auto_t *s = sandbox_of(&f);
    CHECK(s != NULL);
    CHECK(is(at(s, "process/args"), "[\"/entry\", \"default-arg\"]"));
    CHECK(is(at(s, "process/env"), "[\"PATH=/custom/bin\", \"FOO=image\", \"BAR=image\"]"));
    CHECK(
        is(at(s, "process/user"), "{\"uid\": 65535, \"gid\": 65535, \"additionalGids\": [65535]}"));
    CHECK(is(at(s, "process/oomScoreAdj"), "-998") && is(at(s, "process/noNewPrivileges"), "true"));
    CHECK(is(at(s, "root"), "{\"path\": \"rootfs\", \"readonly\": true}"));
    CHECK(is(at(s, "hostname"), "\"web-host\""));
    CHECK(is(ns_of(s, "network"), "{\"type\": \"network\", \"path\": \"/var/run/netns/cni-1\"}"));
    CHECK(is(ns_of(s, "pid"), "{\"type\": \"pid\"}") && ns_of(s, "uts") && ns_of(s, "ipc"));
    CHECK(is(mount_of(s, "/dev/shm"), "{\"destination\": \"/dev/shm\", \"type\": \"bind\","
                                      " \"source\": \"/run/s1/shm\", \"options\": [\"rbind\","
                                      " \"ro\", \"nosuid\", \"nodev\", \"noexec\"]}"));
    CHECK(is(at(mount_of(s, "/etc/resolv.conf"), "options"), "[\"rbind\", \"ro\"]"));
    CHECK(is(at(mount_of(s, "/etc/hosts"), "source"), "\"/run/s1/hosts\""));
    CHECK(mount_of(s, "/sys/fs/cgroup") == NULL && at(s, "linux/maskedPaths") != NULL);
    CHECK(is(at(s, "linux/resources/cpu"), "{\"shares\": 2}"));
    CHECK(is(at(s, "linux/sysctl"), "{\"net.ipv4.ip_forward\": \"1\"}"));
    CHECK(is(at(s, "linux/cgroupsPath"), "\"/k8s.io/s1\""));
    CHECK(blocks(s, "ptrace"));
    CHECK(is(at(s, "annotations"),
             "{\"io.kubernetes.cri.container-type\": \"sandbox\","
             " \"io.kubernetes.cri.sandbox-id\": \"s1\","
             " \"io.kubernetes.cri.sandbox-namespace\": \"default\","
             " \"io.kubernetes.cri.sandbox-uid\": \"uid-1\","
             " \"io.kubernetes.cri.sandbox-name\": \"web\","
             " \"io.kubernetes.cri.sandbox-log-directory\": \"/var/log/pods/web\","
             " \"io.kubernetes.cri.sandbox-cpu-period\": \"0\","
             " \"io.kubernetes.cri.sandbox-cpu-quota\": \"0\","
             " \"io.kubernetes.cri.sandbox-cpu-shares\": \"256\","
             " \"io.kubernetes.cri.sandbox-memory\": \"1000\"}"));
    return 0;
}

static int test_sandbox_host_namespaces_and_refusals(void)
{
    WITH_FIXTURE(f);
    f.pod_ns.network = f.pod_ns.pid = f.pod_ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
    f.pod_sc.privileged = true;
    f.pod_sc.seccomp_profile_path = "runtime/default";
    f.sp.shm_path = NULL;
    json_auto_t *s = sandbox_of(&f);
    CHECK(s != NULL);
    CHECK(is(at(s, "linux/namespaces"), "[{\"type\": \"mount\"}]"));
    CHECK(at(s, "hostname") == NULL && at(s, "linux/seccomp") == NULL);
    CHECK(is(at(mount_of(s, "/dev/shm"), "source"), "\"/dev/shm\""));
    CHECK(is(at(s, "process/user"), "{\"uid\": 1000, \"gid\": 1001, \"additionalGids\":"
                                    " [1001, 10, 63]}")); /* the image's User */
    json_object_del(f.image_config, "Entrypoint");
    json_object_del(f.image_config, "Cmd");
    crimp_error_t err = NULL;
    CHECK(oci_sandbox_spec(&f.pod, &f.sp, &err) == NULL);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    crimp_error_release(&err);
    return 0;
}

static int test_exec_process(void)
{
    WITH_FIXTURE(f);
    json_auto_t *s = spec_of(&f);
    json_auto_t *before = json_deep_copy(s);
    char *cmd[] = {"sh", "-c", "id"};
    json_auto_t *tty = oci_exec_process(s, cmd, 3, true);
    CHECK(is(at(tty, "args"), "[\"sh\", \"-c\", \"id\"]") && is(at(tty, "terminal"), "true"));
    CHECK(is(at(tty, "env"), "[\"PATH=/custom/bin\", \"HOSTNAME=web-host\", \"FOO=image\","
                             " \"BAR=image\", \"TERM=xterm\"]"));
    CHECK(json_equal(at(tty, "user"), at(s, "process/user")));
    CHECK(json_equal(at(tty, "capabilities"), at(s, "process/capabilities")));
    json_auto_t *plain = oci_exec_process(s, cmd, 1, false);
    CHECK(is(at(plain, "args"), "[\"sh\"]") && is(at(plain, "terminal"), "false"));
    CHECK(json_equal(at(plain, "env"), at(s, "process/env")));
    CHECK(json_equal(s, before));
    return 0;
}

int main(void)
{
    oci_host_facts_override(&facts);
    static const struct unit_test tests[] = {
        UNIT_TEST(test_namespaces_pod_mode_joins_the_sandbox),
        UNIT_TEST(test_namespaces_container_node_and_target),
        UNIT_TEST(test_namespaces_cgroup_v2_and_no_sandbox),
        UNIT_TEST(test_args_from_command_args_and_image),
        UNIT_TEST(test_env_cwd_and_tty),
        UNIT_TEST(test_mounts_propagation_sorting_and_shadowing),
        UNIT_TEST(test_recursive_read_only_mount),
        UNIT_TEST(test_resources_and_oom_clamp),
        UNIT_TEST(test_devices),
        UNIT_TEST(test_container_annotations),
        UNIT_TEST(test_sandbox_spec),
        UNIT_TEST(test_sandbox_host_namespaces_and_refusals),
        UNIT_TEST(test_exec_process),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
