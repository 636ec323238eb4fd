/* backends/common/cgroup.c: /proc/PID/cgroup and stat-file parsing, and a
 * real read of this process's own cgroups.  */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "unit.h"
#include "utils.h"

static const char PROC_V1[] = "12:pids:/docker/abc\n"
                              "4:cpu,cpuacct:/docker/abc\n"
                              "3:memory:/docker/abc\n"
                              "1:name=systemd:/docker/abc\n"
                              "0::/system.slice/docker-abc.scope\n";

static int test_paths_per_controller(void)
{
    cleanup_free char *cpu = crimp_cgroup_path_for(PROC_V1, "cpuacct");
    cleanup_free char *mem = crimp_cgroup_path_for(PROC_V1, "memory");
    cleanup_free char *v2 = crimp_cgroup_path_for(PROC_V1, "");
    cleanup_free char *none = crimp_cgroup_path_for(PROC_V1, "hugetlb");
    CHECK(cpu && strcmp(cpu, "/docker/abc") == 0);
    CHECK(mem && strcmp(mem, "/docker/abc") == 0);
    CHECK(v2 && strcmp(v2, "/system.slice/docker-abc.scope") == 0);
    CHECK(none == NULL);
    return 0;
}

static int test_stat_values(void)
{
    const char *stat = "cache 4096\nrss 8192\ntotal_rss 12288\ntotal_inactive_file 1024\n";
    uint64_t v = 0;
    CHECK(crimp_cgroup_stat_value(stat, "total_rss", &v) && v == 12288);
    CHECK(crimp_cgroup_stat_value(stat, "rss", &v) && v == 8192); /* not total_rss */
    CHECK(!crimp_cgroup_stat_value(stat, "pgfault", &v));
    return 0;
}

static int test_own_cgroup_is_readable(void)
{
    struct crimp_cgroup_stats st;
    crimp_error_t err = NULL;
    CHECK(crimp_cgroup_stats_of_pid(getpid(), &st, &err) == 0);
    CHECK(st.have_cpu && st.cpu_usage_ns > 0);
    CHECK(st.have_memory && st.memory_usage > 0);
    CHECK(st.working_set <= st.memory_usage);
    CHECK(crimp_cgroup_stats_of_pid(999999999, &st, &err) < 0);
    crimp_error_release(&err);
    return 0;
}

static int test_net_dev_and_cpu_rate(void)
{
    const char *text =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
        "drop fifo colls carrier compressed\n"
        "    lo:     100       1    0    0    0     0          0         0      100       1    0 "
        "   0    0     0       0          0\n"
        "  eth0:    5000      40    2    0    0     0          0         0     7000      50    3 "
        "   0    0     0       0          0\n";
    struct crimp_netdev d[4];
    CHECK(crimp_parse_net_dev(text, d, 4) == 1);
    CHECK(strcmp(d[0].name, "eth0") == 0);
    CHECK(d[0].rx_bytes == 5000 && d[0].rx_errors == 2 && d[0].tx_bytes == 7000 &&
          d[0].tx_errors == 3);
    struct crimp_cpu_rates *r = crimp_cpu_rates_new();
    uint64_t nc = 0;
    CHECK(!crimp_cpu_rate(r, "c1", 1000000000, 500000000, &nc)); /* first sample */
    CHECK(crimp_cpu_rate(r, "c1", 3000000000, 1500000000, &nc));
    CHECK(nc == 500000000); /* half a core */
    crimp_cpu_rates_free(r);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_paths_per_controller),
        UNIT_TEST(test_stat_values),
        UNIT_TEST(test_own_cgroup_is_readable),
        UNIT_TEST(test_net_dev_and_cpu_rate),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
