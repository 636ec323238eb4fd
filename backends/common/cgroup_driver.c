/* Cgroup driver names, the host default and the backend option.  */
#include "cgroup_driver.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "utils.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char *crimp_cgroup_driver_name(enum crimp_cgroup_driver d)
{
    return d == CRIMP_CGROUP_SYSTEMD ? "systemd" : "cgroupfs";
}

int crimp_cgroup_driver_parse(const char *name, const char *what, enum crimp_cgroup_driver *out,
                              crimp_error_t *err)
{
    if (name && strcmp(name, "systemd") == 0)
        *out = CRIMP_CGROUP_SYSTEMD;
    else if (name && strcmp(name, "cgroupfs") == 0)
        *out = CRIMP_CGROUP_CGROUPFS;
    else
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: `%s` is not a cgroup driver (systemd or cgroupfs)", what,
                                name ? name : "");
    return 0;
}

/* systemd on a v1 or hybrid hierarchy can delegate, but runc's systemd
 * driver then still writes the v1 controllers itself and kubelet's own
 * default is cgroupfs there: only the unified case is taken as systemd's.  */
enum crimp_cgroup_driver crimp_cgroup_driver_for_host(const char *pid1_comm, bool cgroup_v2)
{
    bool systemd = pid1_comm != NULL && strcmp(pid1_comm, "systemd") == 0;
    return systemd && cgroup_v2 ? CRIMP_CGROUP_SYSTEMD : CRIMP_CGROUP_CGROUPFS;
}

enum crimp_cgroup_driver crimp_cgroup_driver_detect(void)
{
    char comm[64] = "";
    FILE *f = fopen("/proc/1/comm", "re");
    if (f) {
        if (fgets(comm, sizeof(comm), f) == NULL)
            comm[0] = '\0';
        fclose(f);
    }
    comm[strcspn(comm, "\n")] = '\0';
    struct statfs fs;
    bool v2 = statfs("/sys/fs/cgroup", &fs) == 0 && (unsigned long)fs.f_type == CGROUP2_SUPER_MAGIC;
    return crimp_cgroup_driver_for_host(comm, v2);
}

bool crimp_systemd_booted(void)
{
    struct stat st;
    return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

int crimp_cgroup_driver_option(json_t *options, enum crimp_cgroup_driver *out, bool *explicit_,
                               crimp_error_t *err)
{
    json_t *v = json_object_get(options, "cgroup_driver");
    *explicit_ = v != NULL;
    if (v == NULL) {
        *out = crimp_cgroup_driver_detect();
        return 0;
    }
    return crimp_cgroup_driver_parse(json_string_value(v), "options.cgroup_driver", out, err);
}

int crimp_cgroups_path(enum crimp_cgroup_driver d, const char *parent, const char *fallback,
                       const char *prefix, const char *id, char **out, crimp_error_t *err)
{
    if (d == CRIMP_CGROUP_CGROUPFS) {
        *out =
            str_empty(parent) ? xasprintf("/%s/%s", fallback, id) : xasprintf("%s/%s", parent, id);
        return 0;
    }
    if (str_empty(parent)) {
        *out = xasprintf("system.slice:%s:%s", prefix, id);
        return 0;
    }
    if (strchr(parent, '/') != NULL || !has_suffix(parent, ".slice"))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "cgroup_parent `%s` is not a systemd slice, but the node's cgroup "
                                "driver is systemd (run kubelet with --cgroup-driver=systemd, or "
                                "set the backend's cgroup_driver to cgroupfs)",
                                parent);
    *out = xasprintf("%s:%s:%s", parent, prefix, id);
    return 0;
}

void crimp_cgroup_driver_reply(Runtime__V1__RuntimeConfigResponse *resp, enum crimp_cgroup_driver d)
{
    resp->linux = xmalloc(sizeof(*resp->linux));
    runtime__v1__linux_runtime_configuration__init(resp->linux);
    resp->linux->cgroup_driver = (Runtime__V1__CgroupDriver)d;
}
