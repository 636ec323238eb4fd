/* Seccomp for the CRI's profile choices: RuntimeDefault as an allow-by-
 * default filter refusing what Docker's default profile refuses, and
 * Localhost profiles read from disk (containerd's seccomp.WithProfile reads
 * them straight into an OCI LinuxSeccomp).  */
#include "oci-internal.h"

#include <errno.h>

#include "utils.h"

/* The syscalls Docker's default profile refuses to a container, from
 * Docker's "Significant syscalls blocked by the default profile" table
 * (docs.docker.com/engine/security/seccomp), each with the capabilities
 * that lift the refusal in moby's profiles/seccomp/default.json (its
 * "includes": {"caps": …} groups).  Docker's profile is an allow list; this
 * is the same policy for these calls as a deny list, so that a syscall newer
 * than the list keeps working.  */
static const struct {
    const char *name;
    const char *lifted_by[2];
} BLOCKED[] = {
    {"acct", {"CAP_SYS_PACCT"}},
    {"add_key", {NULL}},
    {"bpf", {"CAP_SYS_ADMIN", "CAP_BPF"}},
    {"clock_adjtime", {"CAP_SYS_TIME"}},
    {"clock_settime", {"CAP_SYS_TIME"}},
    {"create_module", {NULL}},
    {"delete_module", {"CAP_SYS_MODULE"}},
    {"finit_module", {"CAP_SYS_MODULE"}},
    {"get_kernel_syms", {NULL}},
    {"get_mempolicy", {"CAP_SYS_NICE"}},
    {"init_module", {"CAP_SYS_MODULE"}},
    {"ioperm", {"CAP_SYS_RAWIO"}},
    {"iopl", {"CAP_SYS_RAWIO"}},
    {"kcmp", {"CAP_SYS_PTRACE"}},
    {"kexec_file_load", {NULL}},
    {"kexec_load", {NULL}},
    {"keyctl", {NULL}},
    {"lookup_dcookie", {"CAP_SYS_ADMIN"}},
    {"mbind", {"CAP_SYS_NICE"}},
    {"mount", {"CAP_SYS_ADMIN"}},
    {"move_pages", {NULL}},
    {"name_to_handle_at", {"CAP_SYS_ADMIN"}},
    {"nfsservctl", {NULL}},
    {"open_by_handle_at", {"CAP_DAC_READ_SEARCH"}},
    {"perf_event_open", {"CAP_SYS_ADMIN", "CAP_PERFMON"}},
    {"pivot_root", {NULL}},
    {"process_vm_readv", {"CAP_SYS_PTRACE"}},
    {"process_vm_writev", {"CAP_SYS_PTRACE"}},
    {"ptrace", {"CAP_SYS_PTRACE"}},
    {"query_module", {NULL}},
    {"quotactl", {"CAP_SYS_ADMIN"}},
    {"reboot", {"CAP_SYS_BOOT"}},
    {"request_key", {NULL}},
    {"set_mempolicy", {"CAP_SYS_NICE"}},
    {"setns", {"CAP_SYS_ADMIN"}},
    {"settimeofday", {"CAP_SYS_TIME"}},
    {"stime", {"CAP_SYS_TIME"}},
    {"swapon", {NULL}},
    {"swapoff", {NULL}},
    {"sysfs", {NULL}},
    {"_sysctl", {NULL}},
    {"umount", {"CAP_SYS_ADMIN"}},
    {"umount2", {"CAP_SYS_ADMIN"}},
    {"unshare", {"CAP_SYS_ADMIN"}},
    {"uselib", {NULL}},
    {"userfaultfd", {NULL}},
    {"ustat", {NULL}},
    {"vm86", {NULL}},
    {"vm86old", {NULL}},
};

static bool has_cap(const char *const *caps, const char *cap)
{
    for (size_t i = 0; caps && caps[i]; i++)
        if (strcmp(caps[i], cap) == 0)
            return true;
    return false;
}

/* The ABIs a process of this machine can call through, as Docker lists
 * them; runc adds the native one anyway.  */
static json_t *architectures(void)
{
#if defined(__x86_64__)
    return json_pack("[s, s, s]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    return json_pack("[s, s]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#else
    return json_array();
#endif
}

json_t *oci_default_seccomp(const char *const *caps)
{
    json_t *names = json_array();
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(BLOCKED); i++) {
        const char *const *by = BLOCKED[i].lifted_by;
        if (!(by[0] && has_cap(caps, by[0])) && !(by[1] && has_cap(caps, by[1])))
            json_array_append_new(names, json_string(BLOCKED[i].name));
    }
    json_t *profile = json_pack("{s:s, s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                                architectures());
    if (json_array_size(names) == 0) {
        json_decref(names);
        return profile;
    }
    json_object_set_new(profile, "syscalls",
                        json_pack("[{s:o, s:s, s:i}]", "names", names, "action", "SCMP_ACT_ERRNO",
                                  "errnoRet", EPERM));
    return profile;
}

/* ---- Localhost profiles ------------------------------------------------ */

static int is_strings(const json_t *a)
{
    json_t *v;
    size_t i;
    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
    return true;
}

/* Copies KEY of SRC to DST when it has the type CHECK accepts; false when
 * it is there with another type.  */
static bool copy_member(json_t *dst, json_t *src, const char *key, int (*check)(const json_t *))
{
    json_t *v = json_object_get(src, key);
    if (v == NULL)
        return true;
    if (!check(v))
        return false;
    json_object_set(dst, key, v);
    return true;
}

static int is_integer(const json_t *v)
{
    return json_is_integer(v);
}

static int is_string(const json_t *v)
{
    return json_is_string(v);
}

static json_t *syscall_arg(json_t *arg)
{
    json_auto_t *out = json_object();
    if (!json_is_integer(json_object_get(arg, "index")) ||
        !json_is_string(json_object_get(arg, "op")))
        return NULL;
    if (!copy_member(out, arg, "index", is_integer) ||
        !copy_member(out, arg, "value", is_integer) ||
        !copy_member(out, arg, "valueTwo", is_integer) || !copy_member(out, arg, "op", is_string))
        return NULL;
    return steal_ptr(&out);
}

/* One rule in OCI form; Docker's older single "name" is taken too.  Docker's
 * "includes"/"excludes" conditions are dropped, as containerd does.  */
static json_t *syscall_rule(json_t *rule)
{
    json_auto_t *out = json_object();
    json_t *names = json_object_get(rule, "names");
    const char *name = json_string_value(json_object_get(rule, "name"));
    if (names == NULL && name)
        json_object_set_new(out, "names", json_pack("[s]", name));
    else if (is_strings(names) && json_array_size(names) > 0)
        json_object_set(out, "names", names);
    else
        return NULL;
    if (!json_is_string(json_object_get(rule, "action")) ||
        !copy_member(out, rule, "action", is_string) ||
        !copy_member(out, rule, "errnoRet", is_integer))
        return NULL;
    json_t *args = json_object_get(rule, "args");
    if (json_is_null(args) || args == NULL)
        return steal_ptr(&out);
    if (!json_is_array(args))
        return NULL;
    json_t *oargs = json_array();
    json_object_set_new(out, "args", oargs);
    json_t *a;
    size_t i;
    json_array_foreach(args, i, a)
    {
        json_t *oa = syscall_arg(a);
        if (oa == NULL)
            return NULL;
        json_array_append_new(oargs, oa);
    }
    return steal_ptr(&out);
}

/* DOC as an OCI linux.seccomp, or NULL when it is not a profile.  */
static json_t *profile_from(json_t *doc)
{
    json_auto_t *out = json_object();
    if (!json_is_string(json_object_get(doc, "defaultAction")) ||
        !copy_member(out, doc, "defaultAction", is_string) ||
        !copy_member(out, doc, "defaultErrnoRet", is_integer) ||
        !copy_member(out, doc, "architectures", is_strings) ||
        !copy_member(out, doc, "flags", is_strings))
        return NULL;
    json_t *rules = json_object_get(doc, "syscalls");
    if (rules == NULL || json_is_null(rules))
        return steal_ptr(&out);
    if (!json_is_array(rules))
        return NULL;
    json_t *orules = json_array();
    json_object_set_new(out, "syscalls", orules);
    json_t *r;
    size_t i;
    json_array_foreach(rules, i, r)
    {
        json_t *o = syscall_rule(r);
        if (o == NULL)
            return NULL;
        json_array_append_new(orules, o);
    }
    return steal_ptr(&out);
}

static json_t *load_profile(const char *ref, const char *root, crimp_error_t *err)
{
    cleanup_free char *path = NULL;
    if (ref[0] == '/')
        path = xstrdup(ref);
    else if (root)
        path = xasprintf("%s/%s", root, ref);
    if (path == NULL) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "seccomp profile `%s`: not an absolute path", ref);
        return NULL;
    }
    json_error_t jerr;
    json_auto_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "seccomp profile `%s`: %s", path,
                         jerr.text);
        return NULL;
    }
    json_t *profile = profile_from(doc);
    if (profile == NULL)
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "seccomp profile `%s`: not a seccomp profile (defaultAction, syscalls)",
                         path);
    return profile;
}

/* ---- the choice -------------------------------------------------------- */

enum seccomp_choice { SECCOMP_UNCONFINED, SECCOMP_DEFAULT, SECCOMP_LOCALHOST };

/* containerd's generateSeccompSecurityProfile and generateSeccompSpecOpts:
 * the SecurityProfile when set, else the deprecated path.  */
static int seccomp_choice(const Runtime__V1__SecurityProfile *sp, const char *deprecated,
                          const char **path, crimp_error_t *err)
{
    if (sp == NULL) {
        if (str_empty(deprecated) || strcmp(deprecated, "unconfined") == 0)
            return SECCOMP_UNCONFINED;
        if (strcmp(deprecated, "runtime/default") == 0 || strcmp(deprecated, "docker/default") == 0)
            return SECCOMP_DEFAULT;
        if (has_prefix(deprecated, "localhost/") && deprecated[strlen("localhost/")]) {
            *path = deprecated + strlen("localhost/");
            return SECCOMP_LOCALHOST;
        }
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "seccomp: unknown profile `%s`", deprecated);
    }
    bool localhost = sp->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    if (!localhost && !str_empty(sp->localhost_ref))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "seccomp: localhost_ref is only for a Localhost profile");
    switch (sp->profile_type) {
    case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
        return SECCOMP_UNCONFINED;
    case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
        return SECCOMP_DEFAULT;
    case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
        *path = sp->localhost_ref;
        if (has_prefix(*path, "localhost/"))
            *path += strlen("localhost/");
        if (!str_empty(*path))
            return SECCOMP_LOCALHOST;
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "seccomp: a Localhost profile needs localhost_ref");
    default:
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "seccomp: unknown profile type %d", (int)sp->profile_type);
    }
}

int oci_seccomp_for(const Runtime__V1__SecurityProfile *sp, const char *deprecated_path,
                    json_t *caps, const char *seccomp_root, json_t **out, crimp_error_t *err)
{
    const char *path = NULL;
    *out = NULL;
    int choice = seccomp_choice(sp, deprecated_path, &path, err);
    if (choice < 0)
        return -1;
    if (choice == SECCOMP_LOCALHOST) {
        *out = load_profile(path, seccomp_root, err);
        return *out ? 0 : -1;
    }
    if (choice == SECCOMP_DEFAULT) {
        size_t n = json_array_size(caps);
        cleanup_free const char **names = xcalloc(n + 1, sizeof(*names));
        for (size_t i = 0; i < n; i++)
            names[i] = json_string_value(json_array_get(caps, i));
        *out = oci_default_seccomp(names);
    }
    return 0;
}
