/* The lowest oom_score_adj this machine lets crimp's runtimes set.
 *
 * kubelet asks -998 for sandboxes and negative values for guaranteed pods;
 * some machines (unprivileged VMs, user namespaces) refuse any value below
 * the current process's, and runc then fails with "can't get final child's
 * PID from pipe: EOF".  Backends clamp requests to this floor, as
 * containerd's restrict_oom_score_adj does.  */
#ifndef CRIMP_OOM_H
#define CRIMP_OOM_H

#include <stdbool.h>
#include <sys/types.h>

/* Probes once: tries to lower this process's own oom_score_adj to -1000 and
 * puts it back.  Returns -1000 when that works, else the current value.  */
int crimp_oom_score_adj_floor(void);

/* REQUESTED raised to FLOOR when below it.  */
static inline long long crimp_oom_clamp(long long requested, int floor)
{
    return requested < floor ? floor : requested;
}

/* Whether the OOM killer killed a process of memory cgroup DIR (v1 memory
 * or v2 unified directory; cgroup_oom.c).  */
bool crimp_cgroup_oom_killed(const char *dir);

#endif
