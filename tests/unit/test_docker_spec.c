/* Unit tests for backends/docker/{sandbox,container}_spec.c and labels.c:
 * the CRI → Docker create body translation, field by field.  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "docker/cri_dockerd.h"
#include "docker/labels.h"
#include "docker/spec.h"
#include "pbutil.h"
#include "unit.h"
#include "utils.h"

static const struct docker_spec_opts opts = {.pause_image = "pause:test", .oom_score_adj_min = 0};

static const char *str_at(json_t *doc, const char *a, const char *b)
{
    json_t *v = json_object_get(doc, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static bool array_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
        return true;
    return false;
}

static Runtime__V1__PodSandboxMetadata pod_md = {
    PROTOBUF_C_MESSAGE_INIT(&runtime__v1__pod_sandbox_metadata__descriptor), "web", "u-1", "ns",
    2};

/* A pod without `linux` must still get namespaces of its own: Docker's
 * default bridge would otherwise give it an eth0 before CNI runs.  */
static int test_sandbox_without_linux_is_isolated(void)
{
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    crimp_error_t err = NULL;
    cfg.metadata = &pod_md;
    cfg.hostname = (char *)"test-hostname";
    json_t *b = docker_sandbox_spec(&cfg, &opts, &err);
    CHECK(b != NULL);
    CHECK(strcmp(str_at(b, "HostConfig", "NetworkMode"), "none") == 0);
    CHECK(strcmp(str_at(b, "HostConfig", "IpcMode"), "shareable") == 0);
    CHECK(array_has(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"),
                    "no-new-privileges"));
    CHECK(strcmp(str_at(b, "Hostname", NULL), "test-hostname") == 0);
    CHECK(strcmp(str_at(b, "Image", NULL), "pause:test") == 0);
    CHECK(json_integer_value(json_object_get(json_object_get(b, "HostConfig"), "OomScoreAdj")) ==
          0);
    CHECK(strcmp(str_at(b, "Labels", DOCKER_LABEL_TYPE), DOCKER_TYPE_SANDBOX) == 0);
    json_decref(b);
    return 0;
}

static int test_sandbox_host_namespaces_and_sysctls(void)
{
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__LinuxPodSandboxConfig lin = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__LinuxSandboxSecurityContext sc = RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
    Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry e =
        RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ents[] = {&e};
    crimp_error_t err = NULL;
    ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
    ns.pid = RUNTIME__V1__NAMESPACE_MODE__NODE;
    ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
    sc.namespace_options = &ns;
    lin.security_context = &sc;
    lin.cgroup_parent = (char *)"/kubepods/pod1";
    e.key = (char *)"kernel.shm_rmid_forced";
    e.value = (char *)"1";
    lin.sysctls = ents;
    lin.n_sysctls = 1;
    cfg.linux = &lin;
    cfg.metadata = &pod_md;
    struct docker_spec_opts o = opts;
    o.oom_score_adj_min = -1000;
    json_t *b = docker_sandbox_spec(&cfg, &o, &err);
    json_t *hc = json_object_get(b, "HostConfig");
    CHECK(strcmp(str_at(hc, "NetworkMode", NULL), "host") == 0);
    CHECK(strcmp(str_at(hc, "IpcMode", NULL), "host") == 0);
    CHECK(strcmp(str_at(hc, "PidMode", NULL), "host") == 0);
    CHECK(strcmp(str_at(hc, "CgroupParent", NULL), "/kubepods/pod1") == 0);
    CHECK(strcmp(str_at(hc, "Sysctls", "kernel.shm_rmid_forced"), "1") == 0);
    CHECK(json_integer_value(json_object_get(hc, "OomScoreAdj")) == -998);
    json_decref(b);
    return 0;
}

static int test_sandbox_requires_metadata(void)
{
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    crimp_error_t err = NULL;
    CHECK(docker_sandbox_spec(&cfg, &opts, &err) == NULL);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    crimp_error_release(&err);
    return 0;
}

/* Labels and annotations come back exactly as sent, whatever the image adds. */
static int test_labels_round_trip(void)
{
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__PodSandboxConfig__LabelsEntry l = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
    Runtime__V1__PodSandboxConfig__AnnotationsEntry a =
        RUNTIME__V1__POD_SANDBOX_CONFIG__ANNOTATIONS_ENTRY__INIT;
    Runtime__V1__PodSandboxConfig__LabelsEntry *ls[] = {&l};
    Runtime__V1__PodSandboxConfig__AnnotationsEntry *as[] = {&a};
    struct docker_cri_meta meta;
    crimp_error_t err = NULL;
    l.key = (char *)"annotation.tricky";
    l.value = (char *)"label";
    a.key = (char *)"team";
    a.value = (char *)"blue";
    cfg.labels = ls;
    cfg.n_labels = 1;
    cfg.annotations = as;
    cfg.n_annotations = 1;
    cfg.metadata = &pod_md;
    json_t *labels = docker_sandbox_labels(&cfg);
    json_object_set_new(labels, "from.image", json_string("x"));
    CHECK(docker_cri_meta_read(labels, "/k8s_POD_web_ns_u-1_2", &meta, &err) == 0);
    CHECK(!meta.adopted);
    CHECK(strcmp(meta.name, "web") == 0 && strcmp(meta.namespace_, "ns") == 0);
    CHECK(strcmp(meta.uid, "u-1") == 0 && meta.attempt == 2);
    CHECK(json_object_size(meta.labels) == 1);
    CHECK(strcmp(json_string_value(json_object_get(meta.labels, "annotation.tricky")), "label") ==
          0);
    CHECK(strcmp(json_string_value(json_object_get(meta.annotations, "team")), "blue") == 0);
    void *sel[] = {&l};
    CHECK(docker_labels_match(meta.labels, sel, 1));
    l.value = (char *)"other";
    CHECK(!docker_labels_match(meta.labels, sel, 1));
    docker_cri_meta_free(&meta);
    json_decref(labels);
    return 0;
}

/* A container cri-dockerd made: metadata from its name, its own labels
 * dropped, annotation.<key> labels as annotations; anything without a
 * k8s_ name or the type label is not served.  */
static int test_adopted_meta(void)
{
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "io.kubernetes.docker.type",
                               "container", "io.kubernetes.sandbox.id", "abc",
                               "io.kubernetes.container.logpath", "/l/app.log",
                               "io.kubernetes.pod.name", "web", "annotation.a.b/c", "d");
    struct docker_cri_meta meta;
    crimp_error_t err = NULL;
    CHECK(docker_cri_meta_read(labels, "/k8s_app_web_ns_u-1_3", &meta, &err) == 0);
    CHECK(meta.adopted && strcmp(meta.name, "app") == 0 && meta.attempt == 3);
    CHECK(json_object_size(meta.labels) == 1 && json_object_get(meta.labels, "io.kubernetes.pod.name"));
    CHECK(strcmp(json_string_value(json_object_get(meta.annotations, "a.b/c")), "d") == 0);
    docker_cri_meta_free(&meta);
    CHECK(docker_cri_meta_read(labels, "k8s_app_web_ns_u-1_3_1a2b3c4d", &meta, &err) == 0);
    docker_cri_meta_free(&meta);
    const char *bad[] = {"/victim", "/k8s_app_web_ns_u-1", "/k8s_app_web_ns_u-1_x",
                         "/k8s_a_b_c_d_1_e_f", "/k9s_app_web_ns_u-1_3", NULL};
    for (int i = 0; bad[i]; i++) {
        CHECK(docker_cri_meta_read(labels, bad[i], &meta, &err) < 0);
        CHECK(err->code == GRPC_STATUS_NOT_FOUND);
        crimp_error_release(&err);
    }
    json_object_set_new(labels, "io.kubernetes.docker.type", json_string("other"));
    CHECK(docker_cri_meta_read(labels, "/k8s_app_web_ns_u-1_3", &meta, &err) < 0);
    crimp_error_release(&err);
    json_object_set_new(labels, "io.kubernetes.docker.type", json_string("podsandbox"));
    CHECK(docker_cri_meta_read(labels, "/k8s_POD_web_ns_u-1_0", &meta, &err) == 0);
    CHECK(strcmp(meta.name, "web") == 0 && strcmp(meta.namespace_, "ns") == 0 &&
          strcmp(meta.uid, "u-1") == 0);
    docker_cri_meta_free(&meta);
    json_decref(labels);
    return 0;
}

static int test_names(void)
{
    Runtime__V1__ContainerMetadata cmd = RUNTIME__V1__CONTAINER_METADATA__INIT;
    cmd.name = (char *)"my_app";
    cmd.attempt = 1;
    char *s = docker_sandbox_name(&pod_md);
    char *c = docker_container_name(&cmd, &pod_md);
    CHECK(strcmp(s, "k8s_POD_web_ns_u-1_2") == 0);
    CHECK(strcmp(c, "k8s_my-app_web_ns_u-1_1") == 0);
    free(s);
    free(c);
    return 0;
}

struct ctr {
    Runtime__V1__ContainerConfig cfg;
    Runtime__V1__ContainerMetadata md;
    Runtime__V1__ImageSpec image;
    Runtime__V1__LinuxContainerConfig lin;
    Runtime__V1__LinuxContainerSecurityContext sc;
};

static void ctr_init(struct ctr *c)
{
    runtime__v1__container_config__init(&c->cfg);
    runtime__v1__container_metadata__init(&c->md);
    runtime__v1__image_spec__init(&c->image);
    runtime__v1__linux_container_config__init(&c->lin);
    runtime__v1__linux_container_security_context__init(&c->sc);
    c->md.name = (char *)"app";
    c->image.image = (char *)"sha256:abc";
    c->cfg.metadata = &c->md;
    c->cfg.image = &c->image;
    c->lin.security_context = &c->sc;
    c->cfg.linux = &c->lin;
    c->sc.seccomp_profile_path = (char *)"runtime/default";
}

static int test_container_basics(void)
{
    struct ctr c;
    char *cmd[] = {"sh", "-c"}, *args[] = {"echo hi"};
    Runtime__V1__KeyValue kv = RUNTIME__V1__KEY_VALUE__INIT;
    Runtime__V1__KeyValue *envs[] = {&kv};
    Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
    Runtime__V1__Mount *mounts[] = {&m};
    Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    crimp_error_t err = NULL;
    ctr_init(&c);
    c.cfg.command = cmd;
    c.cfg.n_command = 2;
    c.cfg.args = args;
    c.cfg.n_args = 1;
    kv.key = (char *)"A";
    kv.value.data = (uint8_t *)"b=c";
    kv.value.len = 3;
    c.cfg.envs = envs;
    c.cfg.n_envs = 1;
    m.host_path = (char *)"/h";
    m.container_path = (char *)"/c";
    m.readonly = 1;
    m.selinux_relabel = 1;
    m.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
    c.cfg.mounts = mounts;
    c.cfg.n_mounts = 1;
    c.cfg.log_path = (char *)"app/0.log";
    pod.log_directory = (char *)"/var/log/pods/x";
    json_t *b = docker_container_spec(&c.cfg, "sbx", &pod, &opts, &err);
    CHECK(b != NULL);
    json_t *hc = json_object_get(b, "HostConfig");
    CHECK(strcmp(str_at(hc, "NetworkMode", NULL), "container:sbx") == 0);
    CHECK(strcmp(str_at(hc, "IpcMode", NULL), "container:sbx") == 0);
    CHECK(strcmp(str_at(hc, "PidMode", NULL), "container:sbx") == 0); /* no options: POD */
    CHECK(array_has(json_object_get(b, "Entrypoint"), "-c"));
    CHECK(array_has(json_object_get(b, "Cmd"), "echo hi"));
    CHECK(array_has(json_object_get(b, "Env"), "A=b=c"));
    CHECK(array_has(json_object_get(hc, "Binds"), "/h:/c:ro,Z,rslave"));
    CHECK(strcmp(str_at(b, "Labels", DOCKER_LABEL_LOG_PATH), "/var/log/pods/x/app/0.log") == 0);
    CHECK(strcmp(str_at(b, "Labels", DOCKER_LABEL_SANDBOX_ID), "sbx") == 0);
    CHECK(json_array_size(json_object_get(hc, "SecurityOpt")) == 0);
    json_decref(b);
    return 0;
}

/* A log path out of the pod's log directory is refused before Docker is
 * asked (crimp writes the log file as root); none without a directory.  */
static int test_container_log_path_stays_in_log_directory(void)
{
    struct ctr c;
    crimp_error_t err = NULL;
    ctr_init(&c);
    Runtime__V1__PodSandboxConfig pod = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    pod.log_directory = (char *)"/var/log/pods/x";
    static const char *const bad[] = {"../../../etc/cron.d/x", "/etc/passwd", "a/../../b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c.cfg.log_path = (char *)bad[i];
        CHECK(docker_container_spec(&c.cfg, "sbx", &pod, &opts, &err) == NULL);
        CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT && strstr(err->msg, "log_path"));
        crimp_error_release(&err);
    }
    c.cfg.log_path = (char *)"app/0.log";
    pod.log_directory = (char *)"";
    json_t *b = docker_container_spec(&c.cfg, "sbx", &pod, &opts, &err);
    CHECK(b != NULL && str_at(b, "Labels", DOCKER_LABEL_LOG_PATH) == NULL);
    json_decref(b);
    return 0;
}

static int test_container_without_command_keeps_image_entrypoint(void)
{
    struct ctr c;
    crimp_error_t err = NULL;
    ctr_init(&c);
    json_t *b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(json_object_get(b, "Entrypoint") == NULL && json_object_get(b, "Cmd") == NULL);
    json_decref(b);
    return 0;
}

static int test_user_and_group(void)
{
    struct ctr c;
    Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT, gid = RUNTIME__V1__INT64_VALUE__INIT;
    crimp_error_t err = NULL;
    ctr_init(&c);
    gid.value = 1002;
    c.sc.run_as_group = &gid;
    CHECK(docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err) == NULL);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT && strstr(err->msg, "runAsGroup"));
    crimp_error_release(&err);
    uid.value = 1001;
    c.sc.run_as_user = &uid;
    json_t *b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(strcmp(str_at(b, "User", NULL), "1001:1002") == 0);
    json_decref(b);
    c.sc.run_as_username = (char *)"nobody";
    c.sc.run_as_group = NULL;
    b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(strcmp(str_at(b, "User", NULL), "nobody") == 0);
    json_decref(b);
    return 0;
}

static int test_seccomp(void)
{
    struct ctr c;
    crimp_error_t err = NULL;
    char path[] = "/tmp/crimp-seccomp-XXXXXX";
    int fd = mkstemp(path);
    const char *profile = "{ \"defaultAction\": \"SCMP_ACT_ALLOW\" }";
    CHECK(fd >= 0 && write(fd, profile, strlen(profile)) > 0);
    close(fd);
    ctr_init(&c);

    c.sc.seccomp_profile_path = (char *)"";
    json_t *b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(array_has(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"),
                    "seccomp=unconfined"));
    json_decref(b);

    cleanup_free char *local = xasprintf("localhost/%s", path);
    c.sc.seccomp_profile_path = local;
    b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(array_has(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"),
                    "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"));
    json_decref(b);

    c.sc.seccomp_profile_path = path; /* no localhost/ prefix: refused */
    CHECK(docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err) == NULL);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    crimp_error_release(&err);

    /* No security context at all: no profile either.  */
    c.lin.security_context = NULL;
    b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(array_has(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"),
                    "seccomp=unconfined"));
    json_decref(b);
    c.lin.security_context = &c.sc;

    /* The newer field wins over the deprecated path.  */
    Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
    sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    c.sc.seccomp = &sp;
    b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(b && json_array_size(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt")) ==
                   0);
    json_decref(b);
    unlink(path);
    return 0;
}

static int test_privileged_emulation(void)
{
    struct ctr c;
    crimp_error_t err = NULL;
    const char *caps[] = {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", NULL};
    struct docker_spec_opts o = opts;
    char *masked[] = {"/proc/kcore"};
    ctr_init(&c);
    c.sc.privileged = 1;
    c.sc.masked_paths = masked;
    c.sc.n_masked_paths = 1;
    json_t *b = docker_container_spec(&c.cfg, "sbx", NULL, &o, &err);
    json_t *hc = json_object_get(b, "HostConfig");
    CHECK(json_is_true(json_object_get(hc, "Privileged")));
    CHECK(json_object_get(hc, "MaskedPaths") == NULL);
    json_decref(b);
    o.privileged_caps = caps;
    b = docker_container_spec(&c.cfg, "sbx", NULL, &o, &err);
    hc = json_object_get(b, "HostConfig");
    CHECK(json_object_get(hc, "Privileged") == NULL);
    CHECK(array_has(json_object_get(hc, "CapAdd"), "CAP_SYS_ADMIN"));
    CHECK(json_array_size(json_object_get(hc, "MaskedPaths")) == 0);
    CHECK(array_has(json_object_get(hc, "SecurityOpt"), "seccomp=unconfined"));
    json_decref(b);
    return 0;
}

static int test_resources_and_pid_modes(void)
{
    struct ctr c;
    Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    crimp_error_t err = NULL;
    ctr_init(&c);
    r.memory_limit_in_bytes = 1 << 26;
    r.cpu_shares = 512;
    r.cpu_quota = 50000;
    r.cpu_period = 100000;
    r.oom_score_adj = -500;
    c.lin.resources = &r;
    ns.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
    ns.target_id = (char *)"other";
    c.sc.namespace_options = &ns;
    json_t *b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    json_t *hc = json_object_get(b, "HostConfig");
    CHECK(json_integer_value(json_object_get(hc, "Memory")) == 1 << 26);
    CHECK(json_integer_value(json_object_get(hc, "MemorySwap")) == 1 << 26);
    CHECK(json_integer_value(json_object_get(hc, "CpuShares")) == 512);
    CHECK(json_integer_value(json_object_get(hc, "OomScoreAdj")) == 0); /* clamped */
    CHECK(strcmp(str_at(hc, "PidMode", NULL), "container:other") == 0);
    json_decref(b);
    ns.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
    b = docker_container_spec(&c.cfg, "sbx", NULL, &opts, &err);
    CHECK(strcmp(str_at(json_object_get(b, "HostConfig"), "PidMode", NULL), "container:sbx") == 0);
    json_decref(b);
    return 0;
}

/* cri-dockerd verifies its checkpoints by FNV-32a over go-spew's text of
 * the data; the figures are go-spew's own for the same values.  */
static int test_cri_dockerd_checksum(void)
{
    json_t *none = json_object();
    json_t *host = json_pack("{s:b}", "host_network", 1);
    json_t *ports = json_pack(
        "{s:[{s:s, s:i, s:i, s:s}, {s:s, s:i, s:i}]}", "port_mappings", "protocol", "tcp",
        "container_port", 80, "host_port", 8080, "host_ip", "127.0.0.1", "protocol", "udp",
        "container_port", 53, "host_port", 5353);
    CHECK(cri_dockerd_checksum(none) == 2305795928u);
    CHECK(cri_dockerd_checksum(host) == 12315789u);
    CHECK(cri_dockerd_checksum(ports) == 43913522u);
    json_decref(none);
    json_decref(host);
    json_decref(ports);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_sandbox_without_linux_is_isolated),
        UNIT_TEST(test_sandbox_host_namespaces_and_sysctls),
        UNIT_TEST(test_sandbox_requires_metadata),
        UNIT_TEST(test_labels_round_trip),
        UNIT_TEST(test_adopted_meta),
        UNIT_TEST(test_cri_dockerd_checksum),
        UNIT_TEST(test_names),
        UNIT_TEST(test_container_basics),
        UNIT_TEST(test_container_log_path_stays_in_log_directory),
        UNIT_TEST(test_container_without_command_keeps_image_entrypoint),
        UNIT_TEST(test_user_and_group),
        UNIT_TEST(test_seccomp),
        UNIT_TEST(test_privileged_emulation),
        UNIT_TEST(test_resources_and_pid_modes),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
