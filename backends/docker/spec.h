/* Translation of CRI create requests into Docker's POST /containers/create
 * bodies.  Pure functions: no I/O except reading a localhost seccomp profile
 * and the loaded AppArmor profiles, so that they can be unit-tested against
 * expected JSON.  */
#ifndef CRIMP_DOCKER_SPEC_H
#define CRIMP_DOCKER_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* Machine facts and options the translation depends on.  */
struct docker_spec_opts {
    const char *pause_image;   /* the sandbox's image */
    int oom_score_adj_min;     /* requests below this are raised to it */
    /* When not NULL, "privileged" is emulated with these capabilities plus
     * unconfined seccomp/AppArmor and no masked paths, for machines whose
     * capability bounding set makes Docker's real privileged mode fail.  */
    const char *const *privileged_caps;
    /* Where AppArmor lists loaded profiles; NULL: AppArmor is not checked.  */
    const char *apparmor_profiles_path;
};

/* The create body of a pod's pause container for CFG.  */
json_t *docker_sandbox_spec(const Runtime__V1__PodSandboxConfig *cfg,
                            const struct docker_spec_opts *o, crimp_error_t *err);

/* The create body of an app container.  SANDBOX_ID is the pause container's
 * Docker ID; SANDBOX_CFG the pod's config as kubelet sent it with the
 * CreateContainer call.  INVALID_ARGUMENT for a request Docker cannot
 * express (RunAsGroup without a user, an unknown seccomp profile, …).  */
json_t *docker_container_spec(const Runtime__V1__ContainerConfig *cfg, const char *sandbox_id,
                              const Runtime__V1__PodSandboxConfig *sandbox_cfg,
                              const struct docker_spec_opts *o, crimp_error_t *err);

/* HostConfig's ReadonlyRootfs and GroupAdd (Docker wants the group IDs as
 * strings), the same for a pause container and an app container.  */
void docker_spec_rootfs_and_groups(json_t *hc, bool readonly_rootfs, const int64_t *groups,
                                   size_t n_groups);

#endif
