/* CRI stats messages from what any backend can tell about a container: its
 * cgroup directories (common/cgroup), its writable layer's usage
 * (common/fs_usage) and its CRI metadata.  The docker backend feeds it from
 * its inspect cache; the containerd backend can feed it from the cgroup
 * path in its OCI spec and its snapshot's upper directory.  Only file reads
 * happen here: no runtime calls, no walks.  */
#ifndef CRIMP_CRI_STATS_H
#define CRIMP_CRI_STATS_H

#include <jansson.h>
#include <sys/types.h>

#include "common/cgroup.h"
#include "common/fs_usage.h"
#include "cri.pb-c.h"

/* One container as the stats see it.  */
struct crimp_container_facts {
    const char *id;
    const char *name;    /* CRI metadata */
    uint32_t attempt;
    json_t *labels;      /* CRI labels / annotations: JSON objects of strings, or NULL */
    json_t *annotations;
    /* The running container's cgroup; NULL (zeros reported) when it is not
     * running, so created and exited containers are still listed.  */
    const struct crimp_cgroup_dirs *cgroup;
    const char *layer_dir;                   /* writable layer, or NULL */
    const struct crimp_fs_usage *layer_usage; /* its usage, or NULL */
};

/* One pod as the stats see it.  */
struct crimp_pod_facts {
    const char *id;
    const char *name, *uid, *namespace_;
    uint32_t attempt;
    json_t *labels, *annotations;
    pid_t net_pid; /* a process in the pod's network namespace; 0: none */
};

/* The ContainerStats of F, read now.  RATES (may be NULL) keeps the
 * previous CPU sample per container, for usage_nano_cores.  */
Runtime__V1__ContainerStats *crimp_container_stats_new(const struct crimp_container_facts *f,
                                                       struct crimp_cpu_rates *rates);

/* The PodSandboxStats of F: its attributes and its network (F's
 * namespace's interfaces), CPU and memory zero until its containers are
 * set.  */
Runtime__V1__PodSandboxStats *crimp_pod_stats_new(const struct crimp_pod_facts *f);

/* Moves the N CONTAINERS (the array stays the caller's) into PS and sets
 * the pod's CPU and memory to their sums.  */
void crimp_pod_stats_set_containers(Runtime__V1__PodSandboxStats *ps,
                                    Runtime__V1__ContainerStats **containers, size_t n);

/* The interfaces of process PID's network namespace (eth0 the default),
 * NULL when there are none.  */
Runtime__V1__NetworkUsage *crimp_network_usage_of_pid(pid_t pid, int64_t now);

/* A heap UInt64Value.  */
Runtime__V1__UInt64Value *crimp_u64_value(uint64_t v);

#endif
