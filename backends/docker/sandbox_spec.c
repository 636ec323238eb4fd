/* RunPodSandbox → the pause container's create body.
 *
 * Deviation from dockershim (docs/docker.md, "Pods"): the namespaces and
 * no-new-privileges are set even when the request has no `linux` section,
 * so that such a pod never lands on Docker's default bridge network.  */
#include "spec.h"

#include "common/oci_spec.h"
#include "labels.h"
#include "pbutil.h"
#include "utils.h"

/* Docker forces a 64 MiB /dev/shm when none is given; say it outright.  */
#define SANDBOX_SHM_BYTES (64LL * 1024 * 1024)

static const Runtime__V1__NamespaceOption *
sandbox_namespaces(const Runtime__V1__PodSandboxConfig *cfg)
{
    if (cfg->linux && cfg->linux->security_context)
        return cfg->linux->security_context->namespace_options;
    return NULL;
}

static json_t *sandbox_host_config(const Runtime__V1__PodSandboxConfig *cfg,
                                   const struct docker_spec_opts *o)
{
    const Runtime__V1__NamespaceOption *ns = sandbox_namespaces(cfg);
    bool host_net = ns && ns->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
    bool host_ipc = ns && ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    bool host_pid = ns && ns->pid == RUNTIME__V1__NAMESPACE_MODE__NODE;
    /* kubelet asks -998 for sandboxes; a machine may refuse any negative.  */
    int oom = -998 < o->oom_score_adj_min ? o->oom_score_adj_min : -998;

    json_t *hc = json_pack("{s:s, s:s, s:i, s:i, s:I, s:{s:s}, s:[s], s:{s:s}}", "NetworkMode",
                           host_net ? "host" : "none", "IpcMode", host_ipc ? "host" : "shareable",
                           "OomScoreAdj", oom, "CpuShares", 2, "ShmSize",
                           (json_int_t)SANDBOX_SHM_BYTES, "RestartPolicy", "Name", "no",
                           "SecurityOpt", "no-new-privileges", "LogConfig", "Type", "none");
    if (host_pid)
        json_object_set_new(hc, "PidMode", json_string("host"));
    if (cfg->linux == NULL)
        return hc;
    if (!str_empty(cfg->linux->cgroup_parent))
        json_object_set_new(hc, "CgroupParent", json_string(cfg->linux->cgroup_parent));
    if (cfg->linux->n_sysctls > 0)
        json_object_set_new(hc, "Sysctls",
                            crimp_pb_map_to_json((void *const *)cfg->linux->sysctls,
                                                 cfg->linux->n_sysctls));
    const Runtime__V1__LinuxSandboxSecurityContext *sc = cfg->linux->security_context;
    if (sc) {
        docker_spec_rootfs_and_groups(hc, sc->readonly_rootfs, sc->supplemental_groups,
                                      sc->n_supplemental_groups);
        /* A privileged pod's pause container needs no privilege itself, and
         * Docker's privileged mode fails on machines with a reduced bounding
         * set; the app containers get what they ask for.  */
    }
    return hc;
}

json_t *docker_sandbox_spec(const Runtime__V1__PodSandboxConfig *cfg,
                            const struct docker_spec_opts *o, crimp_error_t *err)
{
    if (cfg->metadata == NULL || str_empty(cfg->metadata->name) ||
        str_empty(cfg->metadata->namespace_) || str_empty(cfg->metadata->uid)) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "RunPodSandbox: config.metadata needs name, namespace and uid");
        return NULL;
    }
    json_t *body = json_pack("{s:s, s:o, s:o}", "Image", o->pause_image, "Labels",
                             docker_sandbox_labels(cfg), "HostConfig", sandbox_host_config(cfg, o));
    if (!str_empty(cfg->hostname))
        json_object_set_new(body, "Hostname", json_string(cfg->hostname));
    const Runtime__V1__LinuxSandboxSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    if (sc) {
        char *user = oci_cri_user_string(sc->run_as_user, NULL, sc->run_as_group, err);
        if (user == NULL && *err != NULL) {
            json_decref(body);
            return NULL;
        }
        if (user)
            json_object_set_new(body, "User", json_string(user));
        free(user);
    }
    return body;
}
