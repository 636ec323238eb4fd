/* Container CPU and memory read straight from the cgroup files: what
 * kubelet's stats need, at a few file reads per container, instead of
 * Docker's stats endpoint (which samples for a second per container:
 * docker-backend.md §9).  cgroup v1 (per controller) and v2 (unified).  */
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
    bool have_cpu, have_memory;
};

/* The stats of the cgroups process PID is in.  */
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

/* The value of KEY in a "key value" per line file (memory.stat, cpu.stat).  */
bool crimp_cgroup_stat_value(const char *text, const char *key, uint64_t *value);

#endif
