/* Whether the OOM killer ended a container: the kernel counts its kills per
 * memory cgroup (v1 memory.oom_control, v2 memory.events: "oom_kill N").
 * Runtimes without a flag of their own for it (containerd's task exit has
 * only a status, 137 for any SIGKILL) read the count when the task has
 * exited but before it is deleted, while the cgroup still exists.  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "oom.h"
#include "utils.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static char *read_small(const char *path)
{
    cleanup_file FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char *buf = xmalloc(8192);
    buf[fread(buf, 1, 8191, f)] = '\0';
    return buf;
}

char *crimp_memory_cgroup_dir(pid_t pid)
{
    cleanup_free char *proc_path = xasprintf("/proc/%d/cgroup", (int)pid);
    cleanup_free char *proc = read_small(proc_path);
    if (proc == NULL)
        return NULL;
    cleanup_free char *v1 = crimp_cgroup_path_for(proc, "memory");
    if (v1)
        return xasprintf(CGROUP_ROOT "/memory%s", v1);
    cleanup_free char *v2 = crimp_cgroup_path_for(proc, "");
    if (v2 == NULL)
        return NULL;
    bool unified_at_root = access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
    return xasprintf("%s%s", unified_at_root ? CGROUP_ROOT : CGROUP_ROOT "/unified", v2);
}

bool crimp_cgroup_oom_killed(const char *dir)
{
    if (dir == NULL)
        return false;
    uint64_t kills = 0;
    cleanup_free char *v1_path = xasprintf("%s/memory.oom_control", dir);
    cleanup_free char *v1 = read_small(v1_path);
    if (v1)
        return crimp_cgroup_stat_value(v1, "oom_kill", &kills) && kills > 0;
    cleanup_free char *v2_path = xasprintf("%s/memory.events", dir);
    cleanup_free char *v2 = read_small(v2_path);
    return v2 && crimp_cgroup_stat_value(v2, "oom_kill", &kills) && kills > 0;
}
