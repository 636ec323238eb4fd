/* CreateContainer → an app container's create body (docs/docker.md,
 * "Containers"), with dockershim's faults fixed: both seccomp fields
 * honoured, AppArmor profiles checked at create, masked paths only when
 * not privileged.  */
#include "spec.h"

#include <strings.h>

#include <errno.h>

#include "common/oci_spec.h"
#include "labels.h"
#include "pbutil.h"
#include "common/crilog.h"
#include "utils.h"

static json_t *string_array(char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *env_array(Runtime__V1__KeyValue *const *envs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const Runtime__V1__KeyValue *kv = envs[i];
        cleanup_free char *s = xasprintf("%s=%.*s", kv->key, (int)kv->value.len,
                                         kv->value.data ? (const char *)kv->value.data : "");
        json_array_append_new(a, json_string(s));
    }
    return a;
}

/* host:container[:ro][,Z][,rshared|rslave] — Docker's Binds syntax.  */
static json_t *binds(Runtime__V1__Mount *const *mounts, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const Runtime__V1__Mount *m = mounts[i];
        char opts[32] = "";
        if (m->readonly)
            strcat(opts, ",ro");
        if (m->selinux_relabel)
            strcat(opts, ",Z");
        if (m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL)
            strcat(opts, ",rshared");
        else if (m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER)
            strcat(opts, ",rslave");
        cleanup_free char *b = opts[0] ? xasprintf("%s:%s:%s", m->host_path, m->container_path,
                                                   opts + 1)
                                       : xasprintf("%s:%s", m->host_path, m->container_path);
        json_array_append_new(a, json_string(b));
    }
    return a;
}

static json_t *devices(Runtime__V1__Device *const *devs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "PathOnHost", devs[i]->host_path,
                                           "PathInContainer", devs[i]->container_path,
                                           "CgroupPermissions",
                                           str_empty(devs[i]->permissions) ? "rwm"
                                                                           : devs[i]->permissions));
    return a;
}

static void set_resources(json_t *hc, const Runtime__V1__LinuxContainerResources *r,
                          const struct docker_spec_opts *o)
{
    if (r == NULL)
        return;
    if (r->memory_limit_in_bytes > 0) {
        json_object_set_new(hc, "Memory", json_integer(r->memory_limit_in_bytes));
        /* No swap unless asked: a pod's memory limit must hold.  */
        int64_t swap = r->memory_swap_limit_in_bytes > 0 ? r->memory_swap_limit_in_bytes
                                                          : r->memory_limit_in_bytes;
        json_object_set_new(hc, "MemorySwap", json_integer(swap));
    }
    if (r->cpu_shares > 0)
        json_object_set_new(hc, "CpuShares", json_integer(r->cpu_shares));
    if (r->cpu_quota > 0)
        json_object_set_new(hc, "CpuQuota", json_integer(r->cpu_quota));
    if (r->cpu_period > 0)
        json_object_set_new(hc, "CpuPeriod", json_integer(r->cpu_period));
    if (!str_empty(r->cpuset_cpus))
        json_object_set_new(hc, "CpusetCpus", json_string(r->cpuset_cpus));
    if (!str_empty(r->cpuset_mems))
        json_object_set_new(hc, "CpusetMems", json_string(r->cpuset_mems));
    int64_t oom = r->oom_score_adj < o->oom_score_adj_min ? o->oom_score_adj_min : r->oom_score_adj;
    json_object_set_new(hc, "OomScoreAdj", json_integer(oom));
}

static void set_namespaces(json_t *hc, const char *sandbox_id,
                           const Runtime__V1__NamespaceOption *ns)
{
    cleanup_free char *pod = xasprintf("container:%s", sandbox_id);
    json_object_set_new(hc, "NetworkMode", json_string(pod));
    json_object_set_new(hc, "IpcMode", json_string(pod));
    if (ns == NULL) {
        /* Absent options are the proto's defaults: every namespace the
         * pod's, the PID one included (as on the containerd backend).  */
        json_object_set_new(hc, "PidMode", json_string(pod));
        return;
    }
    if (ns->network == RUNTIME__V1__NAMESPACE_MODE__NODE)
        json_object_set_new(hc, "UTSMode", json_string("host"));
    switch (ns->pid) {
    case RUNTIME__V1__NAMESPACE_MODE__NODE:
        json_object_set_new(hc, "PidMode", json_string("host"));
        break;
    case RUNTIME__V1__NAMESPACE_MODE__POD:
        json_object_set_new(hc, "PidMode", json_string(pod));
        break;
    case RUNTIME__V1__NAMESPACE_MODE__TARGET: {
        cleanup_free char *t = xasprintf("container:%s", ns->target_id);
        json_object_set_new(hc, "PidMode", json_string(t));
        break;
    }
    default: /* CONTAINER: a PID namespace of its own */
        break;
    }
}

/* The content of a localhost seccomp profile, compacted: Docker takes the
 * profile itself, not a path.  */
static char *read_seccomp_profile(const char *path, crimp_error_t *err)
{
    if (path[0] != '/') {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "seccomp profile `%s` must be an absolute path", path);
        return NULL;
    }
    json_error_t jerr;
    json_auto_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL) {
        crimp_make_error(err, errno == ENOENT ? GRPC_STATUS_NOT_FOUND : GRPC_STATUS_INVALID_ARGUMENT,
                         0, "seccomp profile `%s`: %s", path, jerr.text);
        return NULL;
    }
    cleanup_free char *text = json_dumps(doc, JSON_COMPACT);
    return xasprintf("seccomp=%s", text);
}

/* The SecurityOpt entry for seccomp, NULL for Docker's default profile.
 * The `seccomp` field wins; the deprecated path is what critest 1.26 and
 * older kubelets send.  */
static char *seccomp_opt(const Runtime__V1__LinuxContainerSecurityContext *sc, bool *fail,
                         crimp_error_t *err)
{
    *fail = false;
    if (sc->seccomp) {
        switch (sc->seccomp->profile_type) {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
            return NULL;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost: {
            char *o = read_seccomp_profile(sc->seccomp->localhost_ref, err);
            *fail = o == NULL;
            return o;
        }
        default:
            return xstrdup("seccomp=unconfined");
        }
    }
    const char *p = sc->seccomp_profile_path;
    if (str_empty(p) || strcmp(p, "unconfined") == 0)
        return xstrdup("seccomp=unconfined");
    if (strcmp(p, "runtime/default") == 0 || strcmp(p, "docker/default") == 0)
        return NULL;
    if (has_prefix(p, "localhost/")) {
        char *o = read_seccomp_profile(p + strlen("localhost/"), err);
        *fail = o == NULL;
        return o;
    }
    *fail = true;
    crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "unknown seccomp profile option `%s`",
                     p);
    return NULL;
}

static bool apparmor_loaded(const char *profiles_path, const char *name)
{
    cleanup_file FILE *f = fopen(profiles_path, "re");
    char line[512];
    size_t n = strlen(name);
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            return true;
    return false;
}

/* The SecurityOpt entry for AppArmor, NULL for the default.  Docker only
 * fails at start on a missing profile; kubelet expects the create to fail.  */
static char *apparmor_opt(const Runtime__V1__LinuxContainerSecurityContext *sc,
                          const struct docker_spec_opts *o, bool *fail, crimp_error_t *err)
{
    const char *name = NULL;
    *fail = false;
    if (sc->apparmor) {
        if (sc->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined)
            return xstrdup("apparmor=unconfined");
        if (sc->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
            name = sc->apparmor->localhost_ref;
    } else if (strcmp(sc->apparmor_profile, "unconfined") == 0) {
        return xstrdup("apparmor=unconfined");
    } else if (has_prefix(sc->apparmor_profile, "localhost/")) {
        name = sc->apparmor_profile + strlen("localhost/");
    }
    if (name == NULL)
        return NULL;
    if (o->apparmor_profiles_path && !apparmor_loaded(o->apparmor_profiles_path, name)) {
        *fail = true;
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "apparmor profile `%s` is not loaded",
                         name);
        return NULL;
    }
    return xasprintf("apparmor=%s", name);
}

/* Docker expands "ALL" to every capability it knows, which fails to start
 * where the bounding set lacks one; with a reduced set (PRIVILEGED_CAPS
 * set) "ALL" means what there is.  */
static json_t *cap_list(char *const *caps, size_t n, const char *const *available)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        if (available != NULL && strcasecmp(caps[i], "ALL") == 0) {
            for (size_t k = 0; available[k]; k++)
                json_array_append_new(out, json_string(available[k]));
        } else {
            json_array_append_new(out, json_string(caps[i]));
        }
    }
    return out;
}

static void set_privileged(json_t *hc, json_t *secopts, const struct docker_spec_opts *o)
{
    if (o->privileged_caps == NULL) {
        json_object_set_new(hc, "Privileged", json_true());
        return;
    }
    json_t *caps = json_array();
    for (size_t i = 0; o->privileged_caps[i]; i++)
        json_array_append_new(caps, json_string(o->privileged_caps[i]));
    json_object_set_new(hc, "CapAdd", caps);
    json_array_append_new(secopts, json_string("seccomp=unconfined"));
    json_array_append_new(secopts, json_string("apparmor=unconfined"));
    json_array_append_new(secopts, json_string("label=disable"));
    json_object_set_new(hc, "MaskedPaths", json_array());
    json_object_set_new(hc, "ReadonlyPaths", json_array());
}

/* Security context → HostConfig and the container's User.  */
static int set_security(json_t *body, json_t *hc, const Runtime__V1__LinuxContainerSecurityContext *sc,
                        const struct docker_spec_opts *o, crimp_error_t *err)
{
    json_t *secopts = json_array();
    json_object_set_new(hc, "SecurityOpt", secopts);
    if (sc == NULL) {
        /* No security context asks for no seccomp profile, as an empty
         * one does below and on the containerd backend; Docker's default
         * profile would also cost its start a filter to build and load.  */
        json_array_append_new(secopts, json_string("seccomp=unconfined"));
        return 0;
    }
    cleanup_free char *user =
        oci_cri_user_string(sc->run_as_user, sc->run_as_username, sc->run_as_group, err);
    if (user == NULL && *err != NULL)
        return -1;
    if (user)
        json_object_set_new(body, "User", json_string(user));
    docker_spec_rootfs_and_groups(hc, sc->readonly_rootfs, sc->supplemental_groups,
                                  sc->n_supplemental_groups);
    if (sc->no_new_privs)
        json_array_append_new(secopts, json_string("no-new-privileges"));
    if (sc->privileged) {
        set_privileged(hc, secopts, o);
        return 0;
    }
    if (sc->capabilities) {
        json_object_set_new(hc, "CapAdd", cap_list(sc->capabilities->add_capabilities,
                                                   sc->capabilities->n_add_capabilities,
                                                   o->privileged_caps));
        json_object_set_new(hc, "CapDrop", cap_list(sc->capabilities->drop_capabilities,
                                                    sc->capabilities->n_drop_capabilities, NULL));
    }
    bool fail = false;
    cleanup_free char *seccomp = seccomp_opt(sc, &fail, err);
    if (fail)
        return -1;
    if (seccomp)
        json_array_append_new(secopts, json_string(seccomp));
    cleanup_free char *apparmor = apparmor_opt(sc, o, &fail, err);
    if (fail)
        return -1;
    if (apparmor)
        json_array_append_new(secopts, json_string(apparmor));
    /* Null keeps Docker's defaults; kubelet always sends its own list.  */
    if (sc->n_masked_paths > 0)
        json_object_set_new(hc, "MaskedPaths", string_array(sc->masked_paths, sc->n_masked_paths));
    if (sc->n_readonly_paths > 0)
        json_object_set_new(hc, "ReadonlyPaths",
                            string_array(sc->readonly_paths, sc->n_readonly_paths));
    return 0;
}

static json_t *container_host_config(const Runtime__V1__ContainerConfig *cfg,
                                     const char *sandbox_id,
                                     const Runtime__V1__PodSandboxConfig *sandbox_cfg,
                                     const struct docker_spec_opts *o)
{
    /* crimp writes the CRI log file itself from Docker's log stream
     * (logs.c); Docker keeps a bounded copy in its compact "local" format so
     * that a crimpd restart can resume where it stopped.  */
    json_t *hc = json_pack("{s:{s:s}, s:{s:s, s:{s:s, s:s}}}", "RestartPolicy", "Name", "no",
                           "LogConfig", "Type", "local", "Config", "max-size", "20m", "max-file",
                           "2");
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    set_namespaces(hc, sandbox_id, sc ? sc->namespace_options : NULL);
    if (sandbox_cfg && sandbox_cfg->linux && !str_empty(sandbox_cfg->linux->cgroup_parent))
        json_object_set_new(hc, "CgroupParent", json_string(sandbox_cfg->linux->cgroup_parent));
    if (cfg->n_mounts > 0)
        json_object_set_new(hc, "Binds", binds(cfg->mounts, cfg->n_mounts));
    if (cfg->n_devices > 0)
        json_object_set_new(hc, "Devices", devices(cfg->devices, cfg->n_devices));
    set_resources(hc, cfg->linux ? cfg->linux->resources : NULL, o);
    return hc;
}

static const char *stop_signal_name(Runtime__V1__Signal sig)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&runtime__v1__signal__descriptor, (int)sig);
    return v && sig != RUNTIME__V1__SIGNAL__RUNTIME_DEFAULT ? v->name : NULL;
}

/* Where kubelet reads the container's log: the pod's log directory joined
 * with the container's log path; NULL when kubelet asked for none.  */
static char *full_log_path(const Runtime__V1__ContainerConfig *cfg,
                           const Runtime__V1__PodSandboxConfig *sandbox_cfg)
{
    if (str_empty(cfg->log_path))
        return NULL;
    if (sandbox_cfg == NULL || str_empty(sandbox_cfg->log_directory))
        return NULL; /* relative to nothing: no log, as on containerd */
    return xasprintf("%s/%s", sandbox_cfg->log_directory, cfg->log_path);
}

static json_t *container_body(const Runtime__V1__ContainerConfig *cfg, const char *sandbox_id,
                              const Runtime__V1__PodSandboxConfig *sandbox_cfg)
{
    cleanup_free char *log_path = full_log_path(cfg, sandbox_cfg);
    json_t *body = json_pack("{s:s, s:o, s:b, s:b, s:b, s:{s:[s]}}", "Image", cfg->image->image,
                             "Labels", docker_container_labels(cfg, sandbox_id, log_path),
                             "Tty", cfg->tty, "OpenStdin", cfg->stdin, "StdinOnce",
                             cfg->stdin_once, "Healthcheck", "Test", "NONE");
    /* Omit rather than send []: an empty Entrypoint would erase the image's.  */
    if (cfg->n_command > 0)
        json_object_set_new(body, "Entrypoint", string_array(cfg->command, cfg->n_command));
    if (cfg->n_args > 0)
        json_object_set_new(body, "Cmd", string_array(cfg->args, cfg->n_args));
    if (cfg->n_envs > 0)
        json_object_set_new(body, "Env", env_array(cfg->envs, cfg->n_envs));
    if (!str_empty(cfg->working_dir))
        json_object_set_new(body, "WorkingDir", json_string(cfg->working_dir));
    const char *sig = stop_signal_name(cfg->stop_signal);
    if (sig)
        json_object_set_new(body, "StopSignal", json_string(sig));
    return body;
}

void docker_spec_rootfs_and_groups(json_t *hc, bool readonly_rootfs, const int64_t *groups,
                                   size_t n_groups)
{
    if (readonly_rootfs)
        json_object_set_new(hc, "ReadonlyRootfs", json_true());
    if (n_groups == 0)
        return;
    json_t *add = json_array();
    for (size_t i = 0; i < n_groups; i++) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)groups[i]);
        json_array_append_new(add, json_string(buf));
    }
    json_object_set_new(hc, "GroupAdd", add);
}

json_t *docker_container_spec(const Runtime__V1__ContainerConfig *cfg, const char *sandbox_id,
                              const Runtime__V1__PodSandboxConfig *sandbox_cfg,
                              const struct docker_spec_opts *o, crimp_error_t *err)
{
    if (cfg->metadata == NULL || str_empty(cfg->metadata->name)) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "CreateContainer: config.metadata.name must be set");
        return NULL;
    }
    if (cfg->image == NULL || str_empty(cfg->image->image)) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "CreateContainer: config.image.image must be set");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_mounts; i++)
        if (cfg->mounts[i]->recursive_read_only) {
            /* Status says false for this handler: kubelet should not ask.  */
            crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                             "CreateContainer: mount %s: recursive read-only mounts are not "
                             "supported by the docker backend",
                             cfg->mounts[i]->container_path);
            return NULL;
        }
    if (crilog_path_check(sandbox_cfg ? sandbox_cfg->log_directory : NULL, cfg->log_path, err) < 0)
        return NULL;
    json_t *body = container_body(cfg, sandbox_id, sandbox_cfg);
    json_t *hc = container_host_config(cfg, sandbox_id, sandbox_cfg, o);
    json_object_set_new(body, "HostConfig", hc);
    if (set_security(body, hc, cfg->linux ? cfg->linux->security_context : NULL, o, err) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}
