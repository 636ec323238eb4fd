/* The node's cgroup driver: who names and creates the cgroups of pods and
 * containers.  kubelet >= 1.31 asks the runtime (RuntimeConfig) and then
 * lays out its own cgroups the same way, so every backend must say, and
 * mean, the same driver.  */
#ifndef CRIMP_CGROUP_DRIVER_H
#define CRIMP_CGROUP_DRIVER_H

#include <jansson.h>
#include <stdbool.h>

#include "cri.pb-c.h"
#include "error.h"

/* The values are the CRI's CgroupDriver enum.  */
enum crimp_cgroup_driver {
    CRIMP_CGROUP_SYSTEMD = RUNTIME__V1__CGROUP_DRIVER__SYSTEMD,
    CRIMP_CGROUP_CGROUPFS = RUNTIME__V1__CGROUP_DRIVER__CGROUPFS,
};

/* "systemd" or "cgroupfs".  */
const char *crimp_cgroup_driver_name(enum crimp_cgroup_driver d);

/* Parses NAME ("systemd" or "cgroupfs", as Docker and kubelet spell them);
 * INVALID_ARGUMENT naming WHAT otherwise.  */
int crimp_cgroup_driver_parse(const char *name, const char *what, enum crimp_cgroup_driver *out,
                              crimp_error_t *err);

/* The rule of the host default: systemd only when systemd is PID 1 and
 * the cgroup hierarchy is v2 (unified); cgroupfs otherwise.  */
enum crimp_cgroup_driver crimp_cgroup_driver_for_host(const char *pid1_comm, bool cgroup_v2);

/* That rule applied to this host (/proc/1/comm, the type of /sys/fs/cgroup).  */
enum crimp_cgroup_driver crimp_cgroup_driver_detect(void);

/* Whether systemd manages this host (/run/systemd/system exists: the test
 * runc's systemd cgroup manager makes before using it).  */
bool crimp_systemd_booted(void);

/* The backend option "cgroup_driver" of OPTIONS (may be NULL), or the host
 * default when it is absent; *EXPLICIT says which.  INVALID_ARGUMENT for a
 * value that is neither driver.  */
int crimp_cgroup_driver_option(json_t *options, enum crimp_cgroup_driver *out, bool *explicit_,
                               crimp_error_t *err);

/* The OCI cgroupsPath of a pod or container ID under PARENT (kubelet's
 * cgroup_parent; may be empty) as driver D names it: cgroupfs
 * "PARENT/ID" ("/FALLBACK/ID" without a parent), systemd
 * "PARENT:PREFIX:ID" ("system.slice:PREFIX:ID" without one), which runc
 * turns into PARENT/PREFIX-ID.scope.  INVALID_ARGUMENT for a systemd
 * parent that is not a slice (kubelet run with the other driver).  The
 * caller frees *OUT.  */
int crimp_cgroups_path(enum crimp_cgroup_driver d, const char *parent, const char *fallback,
                       const char *prefix, const char *id, char **out, crimp_error_t *err);

/* Fills a RuntimeConfig reply with D.  */
void crimp_cgroup_driver_reply(Runtime__V1__RuntimeConfigResponse *resp,
                               enum crimp_cgroup_driver d);

#endif
