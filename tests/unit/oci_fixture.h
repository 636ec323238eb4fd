/* Shared by the OCI spec tests: JSON helpers, the facts of a machine like
 * this VM, and a pod with one container as kubelet sends them.  */
#ifndef CRIMP_TEST_OCI_FIXTURE_H
#define CRIMP_TEST_OCI_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/oci-internal.h"
#include "unit.h"
#include "utils.h"

#define ALL_CAPS             ((1ULL << 41) - 1)
#define CAP_SYS_RESOURCE_BIT (1ULL << 24)

/* A machine like this VM: no CAP_SYS_RESOURCE, cgroup v1, swap and
 * hugetlb controllers, no AppArmor.  */
static struct oci_host_facts facts = {
    .caps = ALL_CAPS & ~CAP_SYS_RESOURCE_BIT, .swap = true, .hugetlb = true};

static const char PASSWD[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "daemon:x:1:1::/:/sbin/nologin\n"
                             "app:x:1000:1001:App:/home/app:/bin/sh\n";
static const char GROUP[] = "root:x:0:root\n"
                            "wheel:x:10:root,app\n"
                            "app:x:1001:app\n"
                            "audio:x:63:app\n"
                            "video:x:44:other\n";
static const char IMAGE_CONFIG[] =
    "{\"Env\": [\"PATH=/custom/bin\", \"FOO=image\", \"BAR=image\"],"
    " \"Entrypoint\": [\"/entry\"], \"Cmd\": [\"default-arg\"], \"WorkingDir\": \"/work\","
    " \"User\": \"app\"}";

/* ---- JSON helpers ------------------------------------------------------ */

/* The value at PATH in ROOT: keys and array indices separated by '/'.  */
static inline json_t *at(json_t *root, const char *path)
{
    cleanup_free char *copy = xstrdup(path);
    char *save = NULL;
    json_t *v = root;
    for (char *k = strtok_r(copy, "/", &save); k && v; k = strtok_r(NULL, "/", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(k, NULL, 10)) : json_object_get(v, k);
    return v;
}

/* Whether V equals the JSON TEXT.  */
static inline bool is(json_t *v, const char *text)
{
    json_auto_t *want = json_loads(text, JSON_DECODE_ANY, NULL);
    if (want == NULL || !json_equal(v, want)) {
        cleanup_free char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        fprintf(stderr, "  got  %s\n  want %s\n", got ? got : "(nothing)", text);
        return false;
    }
    return true;
}

static inline bool is_str(json_t *v, const char *want)
{
    const char *got = json_string_value(v);
    if (got == NULL || strcmp(got, want) != 0) {
        fprintf(stderr, "  got  %s\n  want %s\n", got ? got : "(nothing)", want);
        return false;
    }
    return true;
}

static inline bool has_string(json_t *array, const char *s)
{
    json_t *v;
    size_t i;
    json_array_foreach(array, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

static inline json_t *find_by(json_t *array, const char *key, const char *value)
{
    json_t *v;
    size_t i;
    json_array_foreach(array, i, v) if (strcmp(json_string_value(json_object_get(v, key)), value) ==
                                        0) return v;
    return NULL;
}

static inline json_t *ns_of(json_t *spec, const char *type)
{
    return find_by(at(spec, "linux/namespaces"), "type", type);
}

static inline json_t *mount_of(json_t *spec, const char *dst)
{
    return find_by(json_object_get(spec, "mounts"), "destination", dst);
}

/* ---- requests ---------------------------------------------------------- */

struct fixture {
    Runtime__V1__PodSandboxConfig pod;
    Runtime__V1__PodSandboxMetadata pod_md;
    Runtime__V1__LinuxPodSandboxConfig pod_linux;
    Runtime__V1__LinuxSandboxSecurityContext pod_sc;
    Runtime__V1__NamespaceOption pod_ns;
    Runtime__V1__ContainerConfig cfg;
    Runtime__V1__ContainerMetadata md;
    Runtime__V1__ImageSpec image;
    Runtime__V1__LinuxContainerConfig linux;
    Runtime__V1__LinuxContainerSecurityContext sc;
    Runtime__V1__NamespaceOption ns;
    Runtime__V1__LinuxContainerResources res;
    Runtime__V1__Capability caps;
    Runtime__V1__SecurityProfile seccomp;
    Runtime__V1__Int64Value uid, gid;
    json_t *image_config;
    struct oci_container_params p;
    struct oci_sandbox_params sp;
};

/* A pod "web" in namespace "default" and its container "app", as kubelet
 * sends them; F must stay where it is (the messages point into it).  */
static inline void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    runtime__v1__pod_sandbox_config__init(&f->pod);
    runtime__v1__pod_sandbox_metadata__init(&f->pod_md);
    runtime__v1__linux_pod_sandbox_config__init(&f->pod_linux);
    runtime__v1__linux_sandbox_security_context__init(&f->pod_sc);
    runtime__v1__namespace_option__init(&f->pod_ns);
    f->pod_md.name = "web";
    f->pod_md.namespace_ = "default";
    f->pod_md.uid = "uid-1";
    f->pod.metadata = &f->pod_md;
    f->pod.hostname = "web-host";
    f->pod.log_directory = "/var/log/pods/web";
    f->pod.linux = &f->pod_linux;
    f->pod_linux.security_context = &f->pod_sc;
    f->pod_sc.namespace_options = &f->pod_ns;

    runtime__v1__container_config__init(&f->cfg);
    runtime__v1__container_metadata__init(&f->md);
    runtime__v1__image_spec__init(&f->image);
    runtime__v1__linux_container_config__init(&f->linux);
    runtime__v1__linux_container_security_context__init(&f->sc);
    runtime__v1__namespace_option__init(&f->ns);
    runtime__v1__linux_container_resources__init(&f->res);
    runtime__v1__capability__init(&f->caps);
    runtime__v1__security_profile__init(&f->seccomp);
    runtime__v1__int64_value__init(&f->uid);
    runtime__v1__int64_value__init(&f->gid);
    f->md.name = "app";
    f->image.image = "busybox:1.35";
    f->cfg.metadata = &f->md;
    f->cfg.image = &f->image;
    f->cfg.linux = &f->linux;
    f->linux.security_context = &f->sc;
    f->linux.resources = &f->res;
    f->sc.namespace_options = &f->ns;
    f->image_config = json_loads(IMAGE_CONFIG, 0, NULL);
    f->p = (struct oci_container_params){.id = "c1",
                                         .sandbox_id = "s1",
                                         .pod = &f->pod,
                                         .image_config = f->image_config,
                                         .image_name = "docker.io/library/busybox:1.35",
                                         .sandbox_pid = 42,
                                         .hostname = "web-host",
                                         .hostname_path = "/run/s1/hostname",
                                         .hosts_path = "/run/s1/hosts",
                                         .resolv_conf_path = "/run/s1/resolv.conf",
                                         .shm_path = "/run/s1/shm",
                                         .cgroups_path = "/k8s.io/c1",
                                         .oom_score_adj_min = -1000,
                                         .passwd = PASSWD,
                                         .group = GROUP};
    f->sp = (struct oci_sandbox_params){.id = "s1",
                                        .image_config = f->image_config,
                                        .netns_path = "/var/run/netns/cni-1",
                                        .resolv_conf_path = "/run/s1/resolv.conf",
                                        .hosts_path = "/run/s1/hosts",
                                        .shm_path = "/run/s1/shm",
                                        .cgroups_path = "/k8s.io/s1",
                                        .oom_score_adj = -998,
                                        .passwd = PASSWD,
                                        .group = GROUP};
}

static inline void fixture_clear(struct fixture *f)
{
    json_decref(f->image_config);
}

/* The container spec of F, which must build.  */
static inline json_t *spec_of(struct fixture *f)
{
    crimp_error_t err = NULL;
    json_t *spec = oci_container_spec(&f->cfg, &f->p, &err);
    if (spec == NULL) {
        fprintf(stderr, "  oci_container_spec: %s\n", err->msg);
        crimp_error_release(&err);
    }
    return spec;
}

/* Whether F's container spec fails with INVALID_ARGUMENT and a message
 * holding WORD.  */
static inline bool refused(struct fixture *f, const char *word)
{
    crimp_error_t err = NULL;
    json_auto_t *spec = oci_container_spec(&f->cfg, &f->p, &err);
    bool ok = spec == NULL && err && err->code == GRPC_STATUS_INVALID_ARGUMENT &&
              strstr(err->msg, word) != NULL;
    if (!ok)
        fprintf(stderr, "  not refused with `%s`: %s\n", word, err ? err->msg : "(built)");
    crimp_error_release(&err);
    return ok;
}

#define WITH_FIXTURE(f)                                                                            \
    struct fixture f __attribute__((cleanup(fixture_clear)));                                      \
    fixture_init(&f)

static inline bool blocks(json_t *spec, const char *syscall)
{
    return has_string(at(spec, "linux/seccomp/syscalls/0/names"), syscall);
}

#endif
