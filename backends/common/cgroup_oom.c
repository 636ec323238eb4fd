/* Whether the OOM killer ended a container: the kernel counts its kills per
 * memory cgroup (v1 memory.oom_control, v2 memory.events: "oom_kill N").
 * Runtimes without a flag of their own for it (containerd's task exit has
 * only a status, 137 for any SIGKILL) read the count when the task has
 * exited but before it is deleted, while the cgroup still exists (its
 * directory from crimp_cgroup_dirs_of_pid, found while it ran).  */
#include <stdio.h>
#include <string.h>

#include "cgroup.h"
#include "oom.h"
#include "utils.h"

static char *read_small(const char *path)
{
    cleanup_file FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char *buf = xmalloc(8192);
    buf[fread(buf, 1, 8191, f)] = '\0';
    return buf;
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
