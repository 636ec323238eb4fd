/* Container CPU and memory read straight from the cgroup files: what
 * kubelet's stats need, at a few file reads per container, instead of
 * Docker's stats endpoint (which samples for a second per container:
 * docs/docker.md, "Events, lists and stats").  cgroup v1 (per controller) and v2 (unified).  */
#ifndef CRIMP_CGROUP_H
#define CRIMP_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct crimp_cgroup_stats {
    uint64_t cpu_usage_ns;
    uint64_t memory_usage;   /* includes page cache */
    uint64_t working_set;    /* usage minus inactive file pages, as kubelet defines it */
    uint64_t rss;
    uint64_t page_faults, major_page_faults;
    uint64_t memory_limit;   /* 0: none */
    uint64_t pids;           /* processes and threads in the cgroup */
    bool have_cpu, have_memory, have_pids;
};

/* Where a container's stats files are: absolute directories, one per v1
 * controller and the v2 unified one; NULL where the host has none.  Found
 * once (from a process or from the cgroup path the runtime was given) and
 * kept, so a stats call only reads the files.  */
struct crimp_cgroup_dirs {
    char *cpuacct; /* v1 */
    char *memory;  /* v1 */
    char *pids;    /* v1 */
    char *unified; /* v2 (the whole tree on v2 hosts, unified/ on hybrid ones) */
};

/* The directories of the cgroups process PID is in.  */
int crimp_cgroup_dirs_of_pid(pid_t pid, struct crimp_cgroup_dirs *dirs, crimp_error_t *err);

/* The directories of cgroup PATH as a runtime names it: "/kubepods/pod1/abc"
 * (cgroupfs driver: the same path under every controller) or
 * "kubepods-pod1.slice:cri-containerd:abc" (systemd driver: slice:prefix:name,
 * expanded as runc does to .../kubepods.slice/kubepods-pod1.slice/
 * cri-containerd-abc.scope).  Only directories that exist are kept.  */
void crimp_cgroup_dirs_of_path(const char *path, struct crimp_cgroup_dirs *dirs);

void crimp_cgroup_dirs_release(struct crimp_cgroup_dirs *dirs);

/* Reads the stats files under DIRS: only file reads, no lookups.  */
void crimp_cgroup_stats_read(const struct crimp_cgroup_dirs *dirs, struct crimp_cgroup_stats *st);

/* The stats of the cgroups process PID is in (finds the directories, then
 * reads them).  */
int crimp_cgroup_stats_of_pid(pid_t pid, struct crimp_cgroup_stats *st, crimp_error_t *err);

/* CPU rate from two samples crimp keeps itself (no sleeping inside an
 * RPC): the cores used between the last sample of KEY and this one, in
 * nano-cores; false for a first sample.  Thread-safe.  */
struct crimp_cpu_rates;
struct crimp_cpu_rates *crimp_cpu_rates_new(void);
void crimp_cpu_rates_free(struct crimp_cpu_rates *r);
bool crimp_cpu_rate(struct crimp_cpu_rates *r, const char *key, int64_t now_ns,
                    uint64_t usage_ns, uint64_t *nano_cores);

/* One network interface's counters.  */
struct crimp_netdev {
    char name[32];
    uint64_t rx_bytes, rx_errors, tx_bytes, tx_errors;
};

/* Parses /proc/PID/net/dev text into at most MAX interfaces (lo left out).  */
size_t crimp_parse_net_dev(const char *text, struct crimp_netdev *out, size_t max);

/* The interfaces of process PID's network namespace.  */
size_t crimp_netdev_of_pid(pid_t pid, struct crimp_netdev *out, size_t max);

/* Pure pieces, for tests.  */

/* The path of CONTROLLER ("memory", "cpuacct"; "" for the v2 unified
 * hierarchy) in a /proc/PID/cgroup text; caller frees; NULL if absent.  */
char *crimp_cgroup_path_for(const char *proc_cgroup, const char *controller);

/* A systemd driver path "slice:prefix:name" as a cgroupfs path (caller
 * frees); NULL when PATH is not in that form.  */
char *crimp_cgroup_systemd_path(const char *path);

/* The value of KEY in a "key value" per line file (memory.stat, cpu.stat).  */
bool crimp_cgroup_stat_value(const char *text, const char *key, uint64_t *value);

#endif
