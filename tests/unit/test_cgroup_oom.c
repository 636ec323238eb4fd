/* Unit tests for backends/common/cgroup_oom.c: the OOM kill count of a
 * memory cgroup in v1 and v2 layouts, and this process's own memory cgroup.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/oom.h"
#include "unit.h"
#include "utils.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    cleanup_free char *p = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "we");
    fputs(text, f);
    fclose(f);
}

/* FILE in a fresh dir with BEFORE (no kill counted) then AFTER (a kill):
 * the answer must follow.  */
static int check_layout(const char *file, const char *before, const char *after)
{
    char dir[] = "/tmp/crimp-oom.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, file, before);
    CHECK(!crimp_cgroup_oom_killed(dir));
    write_file(dir, file, after);
    CHECK(crimp_cgroup_oom_killed(dir));
    cleanup_free char *f = xasprintf("%s/%s", dir, file);
    unlink(f);
    rmdir(dir);
    return 0;
}

static int test_v1_oom_control(void)
{
    return check_layout("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
                        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
}

/* v2: "oom" counts OOM situations, "oom_kill" the kills: only kills count.  */
static int test_v2_memory_events(void)
{
    return check_layout("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n",
                        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
}

static int test_missing_and_own(void)
{
    CHECK(!crimp_cgroup_oom_killed(NULL));
    CHECK(!crimp_cgroup_oom_killed("/nonexistent/cgroup"));
    struct crimp_cgroup_dirs own = {0};
    crimp_error_t err = NULL;
    CHECK(crimp_cgroup_dirs_of_pid(getpid(), &own, &err) == 0);
    const char *dir = own.memory ? own.memory : own.unified;
    CHECK(dir != NULL);
    cleanup_free char *ctl = xasprintf("%s/memory.oom_control", dir);
    cleanup_free char *ev = xasprintf("%s/memory.events", dir);
    CHECK(access(ctl, R_OK) == 0 || access(ev, R_OK) == 0);
    CHECK(!crimp_cgroup_oom_killed(dir));
    crimp_cgroup_dirs_release(&own);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_v1_oom_control),
        UNIT_TEST(test_v2_memory_events),
        UNIT_TEST(test_missing_and_own),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
