/* Between the pieces of the OCI spec builder: the default spec and the
 * sandbox spec (oci_spec.c), the app container spec (oci_spec_container.c),
 * users (oci_user.c) and seccomp (oci_seccomp.c).  */
#ifndef CRIMP_OCI_INTERNAL_H
#define CRIMP_OCI_INTERNAL_H

#include <stdint.h>

#include "oci_spec.h"

/* The prefix of the annotations the CRI puts on specs.  */
#define CRI_ANNOTATION "io.kubernetes.cri."

/* The machine facts a spec depends on, probed once per process.  */
struct oci_host_facts {
    uint64_t caps; /* bit N: crimp holds capability N (CapEff), what "all" means */
    bool cgroup2;  /* the unified hierarchy: containers get a cgroup namespace */
    bool swap;     /* memory+swap can be limited (memsw / memory.swap.max) */
    bool hugetlb;  /* the hugetlb controller exists */
    bool apparmor; /* AppArmor is enabled */
};

const struct oci_host_facts *oci_host_facts(void);

/* Replaces the probed facts (tests); NULL goes back to the probed ones.  */
void oci_host_facts_override(const struct oci_host_facts *facts);

/* containerd's default Linux spec as the CRI starts from it: no /run
 * tmpfs, rlimits, seccomp or AppArmor; namespaces are set by the caller.  */
json_t *oci_base_spec(void);

/* Sets ENTRY ("KEY=VALUE") in the env array ENV the way containerd's
 * WithEnv does: replaces KEY in place or appends; a bare "KEY" removes it.  */
void oci_env_set(json_t *env, const char *entry);

/* Adds or replaces the namespace of TYPE in linux.namespaces; PATH NULL
 * means a new one.  */
void oci_namespace_set(json_t *spec, const char *type, const char *path);
void oci_namespace_remove(json_t *spec, const char *type);

/* A bind mount of SRC at DST with OPTIONS (NULL-terminated).  */
json_t *oci_bind_mount(const char *src, const char *dst, const char *const *options);

/* Removes the mounts at DST from SPEC.  */
void oci_mounts_remove(json_t *spec, const char *dst);

/* Sets process.user from USERSTR (NULL or "": root) resolved with PASSWD
 * and GROUP; additionalGids = the primary gid, the user's groups in GROUP,
 * then SUPPLEMENTAL, without repeats.  INVALID_ARGUMENT as
 * oci_resolve_user.  */
int oci_process_set_user(json_t *process, const char *userstr, const char *passwd,
                         const char *group, const int64_t *supplemental, size_t n_supplemental,
                         crimp_error_t *err);

/* linux.seccomp for a CRI seccomp choice: SP when set, else the deprecated
 * DEPRECATED_PATH ("runtime/default", "docker/default", "unconfined",
 * "localhost/<path>", "": unconfined).  *OUT is NULL for unconfined.  CAPS
 * (a JSON array of names) lift rules of the default profile; a relative
 * Localhost path is taken under SECCOMP_ROOT (NULL: refused).
 * INVALID_ARGUMENT for an unknown choice or an unusable profile.  */
int oci_seccomp_for(const Runtime__V1__SecurityProfile *sp, const char *deprecated_path,
                    json_t *caps, const char *seccomp_root, json_t **out, crimp_error_t *err);

/* The linux.resources entries of R, into RES (an object).  */
void oci_resources_fill(json_t *res, const Runtime__V1__LinuxContainerResources *r);

/* The object (array) member KEY of OBJ, created empty when missing.  */
json_t *oci_member(json_t *obj, const char *key);
json_t *oci_member_array(json_t *obj, const char *key);

/* The string KEY of an image config ("User", "WorkingDir"), or NULL.  */
const char *oci_image_string(json_t *image_config, const char *key);

/* The image config's Env as a new array (later entries win by key).  */
json_t *oci_image_env(json_t *image_config);

/* Sets annotation KEY (VALUE NULL: "").  */
void oci_set_annotation(json_t *spec, const char *key, const char *value);

/* A JSON array of N strings.  */
json_t *oci_string_array(char *const *items, size_t n);

#endif
