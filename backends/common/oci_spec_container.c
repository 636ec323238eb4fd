/* The app container's spec, after containerd 1.6's CRI plugin
 * (container_create_linux.go, pkg/cri/opts/spec_linux.go).  */
#include "oci-internal.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "oom.h"
#include "utils.h"

#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const Runtime__V1__LinuxContainerSecurityContext *
container_security(const Runtime__V1__ContainerConfig *cfg)
{
    return cfg->linux ? cfg->linux->security_context : NULL;
}

static bool privileged_pod(const Runtime__V1__PodSandboxConfig *pod)
{
    return pod->linux && pod->linux->security_context && pod->linux->security_context->privileged;
}

/* ---- process ----------------------------------------------------------- */

static void append_strings(json_t *dst, json_t *src)
{
    json_t *v;
    size_t i;
    json_array_foreach(src, i, v) if (json_is_string(v)) json_array_append(dst, v);
}

/* Docker's rule (daemon/commit.go), as containerd applies it: without a
 * command the image's Entrypoint runs (unless it is [""]), and the image's
 * Cmd too when there are no args either.  */
static int container_args(json_t *process, const Runtime__V1__ContainerConfig *cfg,
                          json_t *image_config, crimp_error_t *err)
{
    json_t *args = json_array();
    json_object_set_new(process, "args", args);
    if (cfg->n_command == 0) {
        json_t *entrypoint = json_object_get(image_config, "Entrypoint");
        const char *first = json_string_value(json_array_get(entrypoint, 0));
        if (!(json_array_size(entrypoint) == 1 && first && first[0] == '\0'))
            append_strings(args, entrypoint);
        if (cfg->n_args == 0)
            append_strings(args, json_object_get(image_config, "Cmd"));
    }
    for (size_t i = 0; i < cfg->n_command; i++)
        json_array_append_new(args, json_string(cfg->command[i]));
    for (size_t i = 0; i < cfg->n_args; i++)
        json_array_append_new(args, json_string(cfg->args[i]));
    if (json_array_size(args) == 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "container %s: no command specified", cfg->metadata->name);
    return 0;
}

/* PATH, TERM with a tty, HOSTNAME, the image's env, the config's env; a
 * later entry replaces an earlier one of the same name.  */
static json_t *container_env(const Runtime__V1__ContainerConfig *cfg,
                             const struct oci_container_params *p)
{
    json_t *env = json_pack("[s]", DEFAULT_PATH_ENV);
    if (cfg->tty)
        oci_env_set(env, "TERM=xterm");
    char host[256] = "";
    if (!str_empty(p->hostname))
        snprintf(host, sizeof(host), "%s", p->hostname);
    else
        gethostname(host, sizeof(host) - 1);
    cleanup_free char *hostname = xasprintf("HOSTNAME=%s", host);
    oci_env_set(env, hostname);
    json_auto_t *image_env = oci_image_env(p->image_config);
    json_t *v;
    size_t i;
    json_array_foreach(image_env, i, v) oci_env_set(env, json_string_value(v));
    for (i = 0; i < cfg->n_envs; i++) {
        const Runtime__V1__KeyValue *kv = cfg->envs[i];
        cleanup_free char *e = xasprintf("%s=%.*s", kv->key, (int)kv->value.len,
                                         kv->value.data ? (const char *)kv->value.data : "");
        oci_env_set(env, e);
    }
    return env;
}

static int container_user(json_t *process, const Runtime__V1__LinuxContainerSecurityContext *sc,
                          const struct oci_container_params *p, crimp_error_t *err)
{
    cleanup_free char *user = NULL;
    if (sc) {
        user = oci_cri_user_string(sc->run_as_user, sc->run_as_username, sc->run_as_group, err);
        if (user == NULL && *err != NULL)
            return -1;
    }
    const char *userstr = user ? user : oci_image_string(p->image_config, "User");
    /* Root by default, still with root's groups from the image.  */
    return oci_process_set_user(process, str_empty(userstr) ? "0" : userstr, p->passwd, p->group,
                                sc ? sc->supplemental_groups : NULL,
                                sc ? sc->n_supplemental_groups : 0, err);
}

static int container_process(json_t *process, const Runtime__V1__ContainerConfig *cfg,
                             const struct oci_container_params *p, crimp_error_t *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = container_security(cfg);
    if (container_args(process, cfg, p->image_config, err) < 0)
        return -1;
    json_object_set_new(process, "env", container_env(cfg, p));
    const char *cwd = str_empty(cfg->working_dir) ? oci_image_string(p->image_config, "WorkingDir")
                                                  : cfg->working_dir;
    if (!str_empty(cwd))
        json_object_set_new(process, "cwd", json_string(cwd));
    if (cfg->tty)
        json_object_set_new(process, "terminal", json_true());
    json_object_set_new(process, "noNewPrivileges", json_boolean(sc && sc->no_new_privs));
    const Runtime__V1__LinuxContainerResources *r = cfg->linux ? cfg->linux->resources : NULL;
    json_object_set_new(
        process, "oomScoreAdj",
        json_integer(crimp_oom_clamp(r ? r->oom_score_adj : 0, p->oom_score_adj_min)));
    return container_user(process, sc, p, err);
}

/* ---- mounts ------------------------------------------------------------ */

struct bind {
    const char *src;
    char *dst; /* cleaned */
    bool readonly;
    bool recursive_ro; /* submounts read-only too (runc's "rro") */
    Runtime__V1__MountPropagation propagation;
};

/* PATH cleaned lexically, as Go's filepath.Clean: no empty or "."
 * elements, ".." applied, no trailing slash.  */
static char *clean_path(const char *path)
{
    bool rooted = path[0] == '/';
    char *out = xcalloc(1, strlen(path) + 3);
    size_t n = 0, fixed = 0; /* out[0..fixed) is a run of ".." that stays */
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        bool dotdot = len == 2 && p[0] == '.' && p[1] == '.';
        if (dotdot && n > fixed) {
            while (n > fixed && out[n - 1] != '/')
                n--;
            n -= n > fixed;
        } else if (len > 0 && !(len == 1 && p[0] == '.') && !(dotdot && rooted)) {
            if (n > 0)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
            fixed = dotdot ? n : fixed;
        }
        p = end;
    }
    out[n] = '\0';
    if (rooted) {
        memmove(out + 1, out, n + 1);
        out[0] = '/';
    } else if (n == 0) {
        strcpy(out, ".");
    }
    return out;
}

static size_t path_depth(const char *path)
{
    size_t d = 0;
    for (; *path; path++)
        d += *path == '/';
    return d;
}

/* Whether the default mount at DST is covered by the bind at M: the same
 * path, or below it (containerd drops all of /dev/… for a /dev bind; a
 * default under any other bind would be hidden by it as well).  */
static bool covered(const char *dst, const char *m)
{
    size_t n = strlen(m);
    return strcmp(dst, m) == 0 || (n > 1 && strncmp(dst, m, n) == 0 && dst[n] == '/');
}

static bool in_binds(const struct bind *b, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].dst, path) == 0)
            return true;
    return false;
}

static void add_bind(struct bind *b, size_t *n, const char *src, const char *dst, bool readonly,
                     Runtime__V1__MountPropagation propagation)
{
    b[*n] = (struct bind){src, clean_path(dst), readonly, false, propagation};
    (*n)++;
}

/* The CRI mounts, then the pod's files unless the CRI mounts those paths,
 * stably sorted by depth so that no mount hides a deeper one.  */
static size_t collect_binds(const Runtime__V1__ContainerConfig *cfg,
                            const struct oci_container_params *p, struct bind *b)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = container_security(cfg);
    bool ro = sc && sc->readonly_rootfs;
    bool host_ipc = sc && sc->namespace_options &&
                    sc->namespace_options->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_mounts; i++) {
        add_bind(b, &n, cfg->mounts[i]->host_path, cfg->mounts[i]->container_path,
                 cfg->mounts[i]->readonly, cfg->mounts[i]->propagation);
        b[n - 1].recursive_ro = cfg->mounts[i]->recursive_read_only;
    }
    size_t n_cri = n;
    const struct {
        const char *src, *dst;
        bool readonly;
    } extra[] = {{p->hostname_path, "/etc/hostname", ro},
                 {p->hosts_path, "/etc/hosts", ro},
                 {p->resolv_conf_path, "/etc/resolv.conf", ro},
                 {host_ipc || p->shm_path == NULL ? "/dev/shm" : p->shm_path, "/dev/shm", false}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(extra); i++)
        if (extra[i].src && !in_binds(b, n_cri, extra[i].dst))
            add_bind(b, &n, extra[i].src, extra[i].dst, extra[i].readonly,
                     RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE);
    for (size_t i = 1; i < n; i++) /* insertion sort: stable */
        for (size_t j = i; j > 0 && path_depth(b[j - 1].dst) > path_depth(b[j].dst); j--) {
            struct bind t = b[j];
            b[j] = b[j - 1];
            b[j - 1] = t;
        }
    return n;
}

static json_t *bind_json(json_t *linux, const struct bind *b)
{
    const char *prop = "rprivate";
    const char *rootfs = json_string_value(json_object_get(linux, "rootfsPropagation"));
    if (b->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL) {
        prop = "rshared";
        json_object_set_new(linux, "rootfsPropagation", json_string("rshared"));
    } else if (b->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER) {
        prop = "rslave";
        if (rootfs == NULL || strcmp(rootfs, "rshared") != 0)
            json_object_set_new(linux, "rootfsPropagation", json_string("rslave"));
    }
    const char *const opts[] = {"rbind", prop, b->readonly ? "ro" : "rw",
                                b->recursive_ro ? "rro" : NULL, NULL};
    return oci_bind_mount(b->src, b->dst, opts);
}

static void container_mounts(json_t *spec, const Runtime__V1__ContainerConfig *cfg,
                             const struct oci_container_params *p)
{
    struct bind *b = xcalloc(cfg->n_mounts + 4, sizeof(*b));
    size_t n = collect_binds(cfg, p, b);
    json_t *defaults = json_object_get(spec, "mounts");
    json_array_append_new(defaults,
                          json_pack("{s:s, s:s, s:s, s:[s, s, s, s, s]}", "destination",
                                    "/sys/fs/cgroup", "type", "cgroup", "source", "cgroup",
                                    "options", "nosuid", "noexec", "nodev", "relatime", "ro"));
    json_t *mounts = json_array();
    json_t *m;
    size_t i;
    json_array_foreach(defaults, i, m)
    {
        const char *dst = json_string_value(json_object_get(m, "destination"));
        size_t k = 0;
        while (k < n && !covered(dst, b[k].dst))
            k++;
        if (k == n)
            json_array_append(mounts, m);
    }
    for (i = 0; i < n; i++) {
        json_array_append_new(mounts, bind_json(json_object_get(spec, "linux"), &b[i]));
        free(b[i].dst);
    }
    free(b);
    json_object_set_new(spec, "mounts", mounts);
}

/* ---- security ---------------------------------------------------------- */

/* "CAP_X" for a CRI capability ("x", "X" or "CAP_X").  */
static char *cap_name(const char *cri)
{
    char *name = strncasecmp(cri, "CAP_", 4) == 0 ? xstrdup(cri) : xasprintf("CAP_%s", cri);
    for (char *c = name; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return name;
}

static bool has_all(char *const *caps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(caps[i], "ALL") == 0)
            return true;
    return false;
}

static void caps_set_all(json_t *caps, json_t *list)
{
    json_object_set_new(caps, "bounding", json_deep_copy(list));
    json_object_set_new(caps, "effective", json_deep_copy(list));
    json_object_set_new(caps, "permitted", list);
}

/* Adds (or with ADD false, removes) NAME in the bounding, effective and
 * permitted sets.  */
static void caps_change(json_t *caps, const char *name, bool add)
{
    const char *sets[] = {"bounding", "effective", "permitted"};
    for (size_t s = 0; s < CRIMP_ARRAY_SIZE(sets); s++) {
        json_t *list = json_object_get(caps, sets[s]);
        size_t i = 0;
        while (i < json_array_size(list) &&
               strcmp(json_string_value(json_array_get(list, i)), name) != 0)
            i++;
        if (add && i == json_array_size(list))
            json_array_append_new(list, json_string(name));
        else if (!add && i < json_array_size(list))
            json_array_remove(list, i);
    }
}

/* containerd's WithCapabilities: ALL first, so that "add ALL, drop X"
 * means all but X.  */
static void container_caps(json_t *caps, const Runtime__V1__Capability *c)
{
    if (c == NULL)
        return;
    if (has_all(c->add_capabilities, c->n_add_capabilities))
        caps_set_all(caps, oci_caps_of_mask(oci_host_facts()->caps));
    if (has_all(c->drop_capabilities, c->n_drop_capabilities))
        caps_set_all(caps, json_array());
    for (size_t i = 0; i < c->n_add_capabilities; i++)
        if (strcasecmp(c->add_capabilities[i], "ALL") != 0) {
            cleanup_free char *name = cap_name(c->add_capabilities[i]);
            caps_change(caps, name, true);
        }
    for (size_t i = 0; i < c->n_drop_capabilities; i++)
        if (strcasecmp(c->drop_capabilities[i], "ALL") != 0) {
            cleanup_free char *name = cap_name(c->drop_capabilities[i]);
            caps_change(caps, name, false);
        }
}

/* Turns the "ro" of the MOUNT_TYPE mounts into "rw".  */
static void mounts_writable(json_t *spec, const char *mount_type)
{
    json_t *m, *o;
    size_t i, k;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        const char *t = json_string_value(json_object_get(m, "type"));
        if (t == NULL || strcmp(t, mount_type) != 0)
            continue;
        json_array_foreach(json_object_get(m, "options"), k,
                           o) if (strcmp(json_string_value(o), "ro") == 0)
            json_array_set_new(json_object_get(m, "options"), k, json_string("rw"));
    }
}

/* containerd's WithPrivileged plus WithAllDevicesAllowed: every capability
 * crimp holds, no masked or read-only paths, writable /sys and cgroupfs,
 * every device allowed (host devices are not copied into linux.devices).  */
static void make_privileged(json_t *spec)
{
    json_t *process = json_object_get(spec, "process");
    json_t *linux = json_object_get(spec, "linux");
    caps_set_all(json_object_get(process, "capabilities"),
                 oci_caps_of_mask(oci_host_facts()->caps));
    json_object_del(linux, "maskedPaths");
    json_object_del(linux, "readonlyPaths");
    mounts_writable(spec, "sysfs");
    mounts_writable(spec, "cgroup");
    json_object_set_new(json_object_get(linux, "resources"), "devices",
                        json_pack("[{s:b, s:s}]", "allow", 1, "access", "rwm"));
}

/* The kubelet's lists replace the defaults (containerd issue 5029).  */
static void container_paths(json_t *linux, const Runtime__V1__LinuxContainerSecurityContext *sc)
{
    json_object_del(linux, "maskedPaths");
    json_object_del(linux, "readonlyPaths");
    if (sc && sc->n_masked_paths > 0)
        json_object_set_new(linux, "maskedPaths",
                            oci_string_array(sc->masked_paths, sc->n_masked_paths));
    if (sc && sc->n_readonly_paths > 0)
        json_object_set_new(linux, "readonlyPaths",
                            oci_string_array(sc->readonly_paths, sc->n_readonly_paths));
}

/* containerd's generateApparmorSpecOpts, without a default profile of its
 * own: RuntimeDefault leaves the process as AppArmor confines it anyway,
 * and a host without AppArmor refuses only a Localhost profile.  */
static int container_apparmor(json_t *process, const Runtime__V1__LinuxContainerSecurityContext *sc,
                              crimp_error_t *err)
{
    const char *name = NULL;
    if (sc == NULL)
        return 0;
    if (sc->apparmor) {
        if (sc->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
            name = sc->apparmor->localhost_ref;
        else if (!str_empty(sc->apparmor->localhost_ref))
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "apparmor: localhost_ref is only for a Localhost profile");
    } else if (has_prefix(sc->apparmor_profile, "localhost/")) {
        name = sc->apparmor_profile + strlen("localhost/");
    } else if (!str_empty(sc->apparmor_profile) &&
               strcmp(sc->apparmor_profile, "unconfined") != 0 &&
               strcmp(sc->apparmor_profile, "runtime/default") != 0) {
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "apparmor: unknown profile `%s`", sc->apparmor_profile);
    }
    if (name == NULL)
        return 0;
    if (has_prefix(name, "localhost/"))
        name += strlen("localhost/");
    if (!oci_host_facts()->apparmor || str_empty(name))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "apparmor profile `%s`: AppArmor is not enabled on this host",
                                name);
    json_object_set_new(process, "apparmorProfile", json_string(name));
    return 0;
}

static int container_security_opts(json_t *spec, const Runtime__V1__ContainerConfig *cfg,
                                   const struct oci_container_params *p, crimp_error_t *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = container_security(cfg);
    json_t *process = json_object_get(spec, "process");
    json_t *linux = json_object_get(spec, "linux");
    json_t *caps = json_object_get(process, "capabilities");
    if (sc && sc->readonly_rootfs)
        json_object_set_new(json_object_get(spec, "root"), "readonly", json_true());
    container_paths(linux, sc);
    container_caps(caps, sc ? sc->capabilities : NULL);
    if (sc && sc->privileged) {
        make_privileged(spec);
    } else {
        json_t *seccomp = NULL;
        if (oci_seccomp_for(sc ? sc->seccomp : NULL, sc ? sc->seccomp_profile_path : NULL,
                            json_object_get(caps, "effective"), p->seccomp_root, &seccomp, err) < 0)
            return -1;
        if (seccomp)
            json_object_set_new(linux, "seccomp", seccomp);
    }
    return container_apparmor(process, sc, err);
}

/* ---- devices, namespaces, annotations ---------------------------------- */

static int add_device(json_t *linux, const Runtime__V1__Device *d, crimp_error_t *err)
{
    struct stat st;
    if (stat(d->host_path, &st) < 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, errno, "device `%s`",
                                d->host_path);
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "device `%s`: not a device node", d->host_path);
    const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
    json_int_t maj = major(st.st_rdev), min = minor(st.st_rdev);
    json_array_append_new(oci_member_array(linux, "devices"),
                          json_pack("{s:s, s:s, s:I, s:I, s:i, s:I, s:I}", "path",
                                    d->container_path, "type", type, "major", maj, "minor", min,
                                    "fileMode", (int)(st.st_mode & 07777), "uid",
                                    (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid));
    json_array_append_new(oci_member_array(json_object_get(linux, "resources"), "devices"),
                          json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type, "major",
                                    maj, "minor", min, "access",
                                    str_empty(d->permissions) ? "rwm" : d->permissions));
    return 0;
}

/* Joins namespace TYPE of process PID (0: a new one instead), or for
 * MODE NODE keeps the host's.  */
static void join_namespace(json_t *spec, const char *type, const char *file, int pid,
                           Runtime__V1__NamespaceMode mode)
{
    if (mode == RUNTIME__V1__NAMESPACE_MODE__NODE) {
        oci_namespace_remove(spec, type);
        return;
    }
    cleanup_free char *path = pid > 0 ? xasprintf("/proc/%d/ns/%s", pid, file) : NULL;
    oci_namespace_set(spec, type, path);
}

static int container_namespaces(json_t *spec, const Runtime__V1__ContainerConfig *cfg,
                                const struct oci_container_params *p, crimp_error_t *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = container_security(cfg);
    const Runtime__V1__NamespaceOption *ns = sc ? sc->namespace_options : NULL;
    Runtime__V1__NamespaceMode pod = RUNTIME__V1__NAMESPACE_MODE__POD;
    Runtime__V1__NamespaceMode net = ns ? ns->network : pod, pid = ns ? ns->pid : pod;
    join_namespace(spec, "network", "net", p->sandbox_pid, net);
    join_namespace(spec, "ipc", "ipc", p->sandbox_pid, ns ? ns->ipc : pod);
    join_namespace(spec, "uts", "uts", p->sandbox_pid, net);
    if (pid == RUNTIME__V1__NAMESPACE_MODE__CONTAINER) {
        oci_namespace_set(spec, "pid", NULL);
    } else if (pid == RUNTIME__V1__NAMESPACE_MODE__TARGET) {
        if (p->target_pid <= 0)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "container %s: target container `%s` has no process",
                                    cfg->metadata->name, ns->target_id);
        join_namespace(spec, "pid", "pid", p->target_pid, pid);
    } else {
        join_namespace(spec, "pid", "pid", p->sandbox_pid, pid);
    }
    /* A cgroup namespace hides the host's hierarchy (cgroup v2 only, as
     * containerd: v1 containers expect the full paths).  */
    if (oci_host_facts()->cgroup2 && !(sc && sc->privileged))
        oci_namespace_set(spec, "cgroup", NULL);
    return 0;
}

static void container_annotations(json_t *spec, const Runtime__V1__ContainerConfig *cfg,
                                  const struct oci_container_params *p)
{
    const Runtime__V1__PodSandboxMetadata *md = p->pod->metadata;
    oci_set_annotation(spec, CRI_ANNOTATION "container-type", "container");
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-id", p->sandbox_id);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-namespace", md ? md->namespace_ : NULL);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-uid", md ? md->uid : NULL);
    oci_set_annotation(spec, CRI_ANNOTATION "sandbox-name", md ? md->name : NULL);
    oci_set_annotation(spec, CRI_ANNOTATION "container-name", cfg->metadata->name);
    oci_set_annotation(spec, CRI_ANNOTATION "image-name", p->image_name);
}

/* The CRI's rules for a recursive read-only mount (the mount itself
 * read-only, no propagation), and whether this node can make one.  */
static int validate_recursive_ro(const char *name, const Runtime__V1__Mount *m,
                                 const struct oci_container_params *p, crimp_error_t *err)
{
    if (!m->recursive_read_only)
        return 0;
    if (!m->readonly || m->propagation != RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "container %s: mount %s: recursive_read_only needs readonly and "
                                "private propagation",
                                name, m->container_path);
    if (!p->recursive_ro_supported)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "container %s: mount %s: recursive read-only mounts are not "
                                "supported here (they need Linux >= 5.12 and a runc that knows "
                                "\"rro\"; Status says so per runtime handler)",
                                name, m->container_path);
    return 0;
}

static int validate(const Runtime__V1__ContainerConfig *cfg, const struct oci_container_params *p,
                    crimp_error_t *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = container_security(cfg);
    if (cfg->metadata == NULL || str_empty(cfg->metadata->name))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "container config: metadata.name must be set");
    if (p->pod == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "container %s: no sandbox config", cfg->metadata->name);
    if (sc && sc->privileged && !privileged_pod(p->pod))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "container %s: no privileged container allowed in sandbox",
                                cfg->metadata->name);
    for (size_t i = 0; i < cfg->n_mounts; i++)
        if (validate_recursive_ro(cfg->metadata->name, cfg->mounts[i], p, err) < 0)
            return -1;
    return 0;
}

json_t *oci_container_spec(const Runtime__V1__ContainerConfig *cfg,
                           const struct oci_container_params *p, crimp_error_t *err)
{
    if (validate(cfg, p, err) < 0)
        return NULL;
    json_auto_t *spec = oci_base_spec();
    json_t *linux = json_object_get(spec, "linux");
    if (container_process(json_object_get(spec, "process"), cfg, p, err) < 0)
        return NULL;
    container_mounts(spec, cfg, p);
    if (container_security_opts(spec, cfg, p, err) < 0)
        return NULL;
    for (size_t i = 0; i < cfg->n_devices; i++)
        if (add_device(linux, cfg->devices[i], err) < 0)
            return NULL;
    if (cfg->linux && cfg->linux->resources)
        oci_resources_fill(json_object_get(linux, "resources"), cfg->linux->resources);
    if (p->cgroups_path)
        json_object_set_new(linux, "cgroupsPath", json_string(p->cgroups_path));
    if (container_namespaces(spec, cfg, p, err) < 0)
        return NULL;
    container_annotations(spec, cfg, p);
    return steal_ptr(&spec);
}
