/* OCI runtime specs (config.json, as JSON) built from CRI requests, for the
 * runtimes crimp drives below Docker's level (the containerd native
 * backend hands them to containerd as the container's spec).  Pure
 * functions: the caller gathers every machine fact (namespace paths, the
 * image's /etc/passwd, the oom_score_adj floor) into the params, so the
 * translation is unit-tested against expected JSON.
 *
 * What they follow: containerd's CRI plugin (docs/containerd.md,
 * "Pods" and "Containers") and the OCI runtime spec 1.0.2: the default Linux spec
 * (namespaces, the standard mounts, masked/readonly paths, default
 * capabilities), then the CRI config on top.  */
#ifndef CRIMP_OCI_SPEC_H
#define CRIMP_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cri.pb-c.h"
#include "error.h"

/* What the sandbox (pause) spec needs beyond the CRI config.  */
struct oci_sandbox_params {
    const char *id;         /* the sandbox ID */
    json_t *image_config;   /* the image config's "config" object (Env, Entrypoint, Cmd,
                               WorkingDir, User); may be NULL */
    const char *netns_path; /* the pinned netns; NULL: a new one (host network is
                               the config's NamespaceOption NODE) */
    const char *hostname_path, *resolv_conf_path, *hosts_path; /* bind sources, NULL: skip */
    const char *shm_path;     /* the pod's /dev/shm tmpfs; NULL: host IPC's /dev/shm */
    const char *cgroups_path; /* "<parent>/<id>" (caller computes) */
    int oom_score_adj;        /* already clamped */
    const char *passwd, *group; /* the image's /etc/passwd and /etc/group text, or NULL */
};

/* The pause container's spec: args from the image, read-only rootfs, new
 * pid/ipc/uts/mount namespaces and the pinned netns (host namespaces per
 * NamespaceOption), cpu shares 2, sysctls, run_as_user/group, seccomp per
 * the pod security context, annotations io.kubernetes.cri.container-type=
 * sandbox, sandbox-id, -name, -namespace, -uid, -log-directory.  */
json_t *oci_sandbox_spec(const Runtime__V1__PodSandboxConfig *cfg,
                         const struct oci_sandbox_params *p, crimp_error_t *err);

/* What an app container's spec needs beyond the CRI configs.  */
struct oci_container_params {
    const char *id, *sandbox_id;
    const Runtime__V1__PodSandboxConfig *pod;
    json_t *image_config;  /* as above; may be NULL */
    const char *image_name; /* for the io.kubernetes.cri.image-name annotation */
    int sandbox_pid;        /* namespaces are joined through /proc/<pid>/ns/…; 0: no
                               pod to join, new namespaces instead (tests) */
    int target_pid;         /* NamespaceMode TARGET for pid; 0 when not used */
    const char *hostname;   /* HOSTNAME env */
    const char *hostname_path, *resolv_conf_path, *hosts_path, *shm_path; /* as above */
    const char *cgroups_path;
    int oom_score_adj_min;    /* requests below are raised to it */
    const char *passwd, *group; /* the image's /etc/passwd and /etc/group, or NULL */
    /* Where Localhost seccomp profiles are looked up when the path is
     * relative; NULL: must be absolute.  */
    const char *seccomp_root;
    /* Whether mounts may ask for recursive_read_only (kernel and runtime
     * can): when false such a mount is refused.  */
    bool recursive_ro_supported;
};

/* The app container's spec: process (args = command+args or the image's
 * Entrypoint+Cmd, env: PATH, HOSTNAME, image env, config env; cwd; tty and
 * TERM; user per security context / image User, resolved with PASSWD and
 * GROUP; supplemental groups; capabilities add/drop incl. ALL; no_new_privs;
 * oom_score_adj; apparmor profile), root (readonly_rootfs), mounts (CRI
 * mounts with propagation, readonly and recursive_read_only, /etc/hostname, /etc/hosts,
 * /etc/resolv.conf, /dev/shm unless the CRI mounts them, /sys/fs/cgroup ro),
 * linux (namespaces of the pod per NamespaceOption, resources, cgroupsPath,
 * devices, masked/readonly paths from the security context, sysctls,
 * seccomp RuntimeDefault / Unconfined / Localhost), privileged (all caps,
 * host devices, no masked paths, rw /sys), annotations.
 * INVALID_ARGUMENT for what cannot be honoured (an unknown user name, a
 * group without a user, an unreadable seccomp profile, no args at all).  */
json_t *oci_container_spec(const Runtime__V1__ContainerConfig *cfg,
                           const struct oci_container_params *p, crimp_error_t *err);

/* linux.resources of R (for UpdateContainerResources: Tasks/Update takes it
 * as LinuxResources JSON, and it is merged into the stored spec).  */
json_t *oci_linux_resources(const Runtime__V1__LinuxContainerResources *r);

/* The process of an exec in a container with SPEC: the container's process
 * (user, env, cwd, capabilities…) with ARGS and TERMINAL (TERM=xterm).  */
json_t *oci_exec_process(json_t *spec, char *const *args, size_t n_args, bool terminal);

/* Resolves a user: USER is "uid", "name", "uid:gid", "name:group" (an image
 * User or a CRI username); PASSWD / GROUP texts may be NULL (then names
 * fail, numbers pass with gid 0 unless given).  *ADDITIONAL (caller frees)
 * are the groups listing the user in GROUP.  */
int oci_resolve_user(const char *user, const char *passwd, const char *group, uid_t *uid,
                     gid_t *gid, gid_t **additional, size_t *n_additional, crimp_error_t *err);

/* The user string of a CRI security context: USERNAME or UID, ":GID"
 * appended; NULL without *ERR set when none is given (the image's user
 * applies).  INVALID_ARGUMENT for a group without a user.  */
char *oci_cri_user_string(const Runtime__V1__Int64Value *uid, const char *username,
                          const Runtime__V1__Int64Value *gid, crimp_error_t *err);

/* Docker's default seccomp policy, as an OCI linux.seccomp object: what
 * RuntimeDefault means (allow by default, refuse with EPERM the syscalls
 * Docker refuses to a container without CAP_SYS_ADMIN & co.).  CAPS are
 * the container's effective capabilities (names "CAP_…", NULL-terminated):
 * the rules they lift are left out.  */
json_t *oci_default_seccomp(const char *const *caps);

/* The capability names ("CAP_CHOWN") set in MASK (bit N is capability N
 * of <linux/capability.h>), as a JSON array, in number order: crimp's one
 * table of capability names.  */
json_t *oci_caps_of_mask(uint64_t mask);

#endif
