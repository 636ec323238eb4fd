/* backends/common/cgroup.c: /proc/PID/cgroup and stat-file parsing, and a
 * real read of this process's own cgroups.  */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "common/cgroup.h"
#include "common/cri_metrics.h"
#include "common/cri_stats.h"
#include "common/fs_usage.h"
#include "pbutil.h"
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

static int test_systemd_paths(void)
{
    cleanup_free char *a = crimp_cgroup_systemd_path("kubepods-burstable-pod1.slice:cri-containerd:abc");
    CHECK(a && strcmp(a, "/kubepods.slice/kubepods-burstable.slice/"
                         "kubepods-burstable-pod1.slice/cri-containerd-abc.scope") == 0);
    cleanup_free char *b = crimp_cgroup_systemd_path("system.slice:docker:abc");
    CHECK(b && strcmp(b, "/system.slice/docker-abc.scope") == 0);
    cleanup_free char *c = crimp_cgroup_systemd_path("-.slice::x.slice");
    CHECK(c && strcmp(c, "/x.slice") == 0);
    CHECK(crimp_cgroup_systemd_path("/kubepods/pod1/abc") == NULL);
    CHECK(crimp_cgroup_systemd_path("a:b:c") == NULL);
    return 0;
}

/* The directories found from our own pid and from its cgroup path read
 * the same files; the common assembly fills a ContainerStats from them.  */
static int test_dirs_and_container_stats(void)
{
    struct crimp_cgroup_dirs mine, by_path;
    crimp_error_t err = NULL;
    CHECK_OK(crimp_cgroup_dirs_of_pid(getpid(), &mine, &err));
    CHECK(mine.memory || mine.unified);
    cleanup_free char *text = NULL;
    {
        cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
        char buf[4096];
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[n] = '\0';
        text = xstrdup(buf);
    }
    cleanup_free char *mem = crimp_cgroup_path_for(text, mine.memory ? "memory" : "");
    CHECK(mem);
    crimp_cgroup_dirs_of_path(mem, &by_path);
    CHECK((mine.memory ? by_path.memory : by_path.unified) != NULL);
    struct crimp_cgroup_stats st;
    crimp_cgroup_stats_read(&mine, &st);
    CHECK(st.have_memory && st.memory_usage > 0);
    struct crimp_fs_usage layer = {.bytes = 4096, .inodes = 2, .at_ns = 5};
    json_auto_t *labels = json_pack("{s:s}", "app", "x");
    struct crimp_container_facts f = {.id = "c1", .name = "app", .attempt = 2, .labels = labels,
                                      .cgroup = &mine, .layer_dir = "/l", .layer_usage = &layer};
    Runtime__V1__ContainerStats *cs = crimp_container_stats_new(&f, NULL);
    CHECK(strcmp(cs->attributes->metadata->name, "app") == 0 && cs->attributes->n_labels == 1);
    CHECK(cs->memory->working_set_bytes->value > 0);
    CHECK(cs->cpu->usage_core_nano_seconds->value > 0 && cs->cpu->usage_nano_cores == NULL);
    CHECK(cs->writable_layer->used_bytes->value == 4096 && cs->writable_layer->timestamp == 5);
    struct crimp_pod_facts pf = {.id = "p1", .name = "pod"};
    Runtime__V1__PodSandboxStats *ps = crimp_pod_stats_new(&pf);
    uint64_t ws = cs->memory->working_set_bytes->value;
    crimp_pod_stats_set_containers(ps, &cs, 1);
    CHECK(ps->linux->n_containers == 1 && ps->linux->memory->working_set_bytes->value == ws);
    CHECK(ps->linux->network == NULL);
    protobuf_c_message_free_unpacked(&ps->base, NULL);
    crimp_cgroup_dirs_release(&mine);
    crimp_cgroup_dirs_release(&by_path);
    return 0;
}

static int test_fs_usage_cache(void)
{
    char dir[] = "/tmp/crimp-fsu.XXXXXX";
    CHECK(mkdtemp(dir));
    cleanup_free char *file = xasprintf("%s/f", dir);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    char block[8192] = {1};
    CHECK(write(fd, block, sizeof(block)) == (ssize_t)sizeof(block));
    close(fd);
    struct crimp_fs_usage_cache *c = crimp_fs_usage_cache_new(1);
    struct crimp_fs_usage u;
    crimp_fs_usage_get(c, dir, &u); /* first ask walks */
    CHECK(u.inodes == 2 && u.bytes >= 8192);
    fd = open(file, O_WRONLY | O_APPEND);
    for (int i = 0; i < 16; i++)
        CHECK(write(fd, block, sizeof(block)) == (ssize_t)sizeof(block));
    close(fd);
    crimp_fs_usage_get(c, dir, &u); /* the cached figure: no walk on the read */
    CHECK(u.bytes < 17 * 8192);
    for (int i = 0; i < 40 && u.bytes < 17 * 8192; i++) {
        usleep(100000);
        crimp_fs_usage_get(c, dir, &u);
    }
    CHECK(u.bytes >= 17 * 8192); /* refreshed in the background within ~1.25 s */
    crimp_fs_usage_forget(c, dir);
    crimp_fs_usage_cache_free(c);
    unlink(file);
    rmdir(dir);
    return 0;
}

/* kubelet turns each metric into a Prometheus sample with its descriptor's
 * label keys: the values must match them one for one.  */
static int label_values_match(const Runtime__V1__ListMetricDescriptorsResponse *d,
                              Runtime__V1__Metric *const *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Runtime__V1__MetricDescriptor *desc = NULL;
        for (size_t k = 0; k < d->n_descriptors; k++)
            if (strcmp(d->descriptors[k]->name, m[i]->name) == 0)
                desc = d->descriptors[k];
        CHECK(desc != NULL && desc->n_label_keys == m[i]->n_label_values);
    }
    return 0;
}

static int test_metrics_match_their_descriptors(void)
{
    Runtime__V1__ListMetricDescriptorsResponse d = RUNTIME__V1__LIST_METRIC_DESCRIPTORS_RESPONSE__INIT;
    crimp_metric_descriptors(&d);
    CHECK(d.n_descriptors >= 10);
    struct crimp_cgroup_dirs mine;
    crimp_error_t err = NULL;
    CHECK_OK(crimp_cgroup_dirs_of_pid(getpid(), &mine, &err));
    struct crimp_fs_usage layer = {.bytes = 4096, .inodes = 2};
    struct crimp_container_facts f = {.id = "c1", .cgroup = &mine, .layer_dir = "/l",
                                      .layer_usage = &layer};
    struct crimp_metric_names names = {.id = "c1", .container = "app", .pod = "p"};
    Runtime__V1__ContainerMetrics *cm = crimp_container_metrics_new(&f, &names);
    CHECK(label_values_match(&d, cm->metrics, cm->n_metrics) == 0);
    bool ws = false;
    for (size_t i = 0; i < cm->n_metrics; i++)
        if (strcmp(cm->metrics[i]->name, "container_memory_working_set_bytes") == 0)
            ws = cm->metrics[i]->value->value > 0 &&
                 strcmp(cm->metrics[i]->label_values[3], "app") == 0;
    CHECK(ws);
    struct crimp_pod_facts pf = {.id = "p1", .net_pid = getpid()};
    Runtime__V1__PodSandboxMetrics *pm = crimp_pod_metrics_new(&pf, &names);
    CHECK(label_values_match(&d, pm->metrics, pm->n_metrics) == 0);
    protobuf_c_message_free_unpacked(&cm->base, NULL);
    protobuf_c_message_free_unpacked(&pm->base, NULL);
    crimp_pb_free_fields(&d.base);
    crimp_cgroup_dirs_release(&mine);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_paths_per_controller),
        UNIT_TEST(test_stat_values),
        UNIT_TEST(test_own_cgroup_is_readable),
        UNIT_TEST(test_net_dev_and_cpu_rate),
        UNIT_TEST(test_systemd_paths),
        UNIT_TEST(test_dirs_and_container_stats),
        UNIT_TEST(test_fs_usage_cache),
        UNIT_TEST(test_metrics_match_their_descriptors),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
