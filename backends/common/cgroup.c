/* cgroup v1 and v2 stats files.  */
#include "cgroup.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "utils.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

char *crimp_cgroup_path_for(const char *proc_cgroup, const char *controller)
{
    cleanup_free char *copy = xstrdup(proc_cgroup);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* "4:cpu,cpuacct:/docker/abc" or "0::/system.slice/x" */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        const char *controllers = c1 + 1;
        if (controller[0] == '\0') {
            if (controllers[0] == '\0')
                return xstrdup(c2 + 1);
            continue;
        }
        cleanup_free char *list = xstrdup(controllers);
        char *s2 = NULL;
        for (char *c = strtok_r(list, ",", &s2); c; c = strtok_r(NULL, ",", &s2))
            if (strcmp(c, controller) == 0)
                return xstrdup(c2 + 1);
    }
    return NULL;
}

bool crimp_cgroup_stat_value(const char *text, const char *key, uint64_t *value)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, n) == 0 && p[n] == ' ') {
            *value = strtoull(p + n + 1, NULL, 10);
            return true;
        }
    return false;
}

static char *read_text(const char *path)
{
    cleanup_file FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    char *buf = xmalloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    return buf;
}

static bool read_u64(const char *path, uint64_t *v)
{
    cleanup_free char *t = read_text(path);
    if (t == NULL)
        return false;
    if (strncmp(t, "max", 3) == 0) {
        *v = 0;
        return true;
    }
    *v = strtoull(t, NULL, 10);
    return true;
}

/* Whether v2 lives at /sys/fs/cgroup or, on hybrid hosts, under unified/.  */
static const char *v2_root(void)
{
    return access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0 ? CGROUP_ROOT
                                                                 : CGROUP_ROOT "/unified";
}

static void memory_from_stat(struct crimp_cgroup_stats *st, const char *stat, bool v2)
{
    uint64_t inactive = 0;
    crimp_cgroup_stat_value(stat, v2 ? "inactive_file" : "total_inactive_file", &inactive);
    crimp_cgroup_stat_value(stat, v2 ? "anon" : "total_rss", &st->rss);
    crimp_cgroup_stat_value(stat, v2 ? "pgfault" : "total_pgfault", &st->page_faults);
    crimp_cgroup_stat_value(stat, v2 ? "pgmajfault" : "total_pgmajfault", &st->major_page_faults);
    st->working_set = st->memory_usage > inactive ? st->memory_usage - inactive : 0;
}

static void read_v1(const char *proc, struct crimp_cgroup_stats *st)
{
    cleanup_free char *cpu = crimp_cgroup_path_for(proc, "cpuacct");
    cleanup_free char *mem = crimp_cgroup_path_for(proc, "memory");
    if (cpu) {
        cleanup_free char *p = xasprintf(CGROUP_ROOT "/cpuacct%s/cpuacct.usage", cpu);
        st->have_cpu = read_u64(p, &st->cpu_usage_ns);
    }
    if (mem) {
        cleanup_free char *u = xasprintf(CGROUP_ROOT "/memory%s/memory.usage_in_bytes", mem);
        cleanup_free char *s = xasprintf(CGROUP_ROOT "/memory%s/memory.stat", mem);
        cleanup_free char *l = xasprintf(CGROUP_ROOT "/memory%s/memory.limit_in_bytes", mem);
        cleanup_free char *stat = read_text(s);
        st->have_memory = read_u64(u, &st->memory_usage) && stat != NULL;
        if (stat)
            memory_from_stat(st, stat, false);
        read_u64(l, &st->memory_limit);
        if (st->memory_limit > (1ULL << 62)) /* v1's "unlimited" */
            st->memory_limit = 0;
    }
}

static void read_v2(const char *proc, struct crimp_cgroup_stats *st)
{
    cleanup_free char *path = crimp_cgroup_path_for(proc, "");
    if (path == NULL)
        return;
    const char *root = v2_root();
    cleanup_free char *cpu = xasprintf("%s%s/cpu.stat", root, path);
    cleanup_free char *cpu_stat = read_text(cpu);
    uint64_t usec = 0;
    if (!st->have_cpu && cpu_stat && crimp_cgroup_stat_value(cpu_stat, "usage_usec", &usec)) {
        st->cpu_usage_ns = usec * 1000;
        st->have_cpu = true;
    }
    cleanup_free char *cur = xasprintf("%s%s/memory.current", root, path);
    cleanup_free char *stat_path = xasprintf("%s%s/memory.stat", root, path);
    cleanup_free char *max = xasprintf("%s%s/memory.max", root, path);
    cleanup_free char *stat = read_text(stat_path);
    if (!st->have_memory && read_u64(cur, &st->memory_usage) && stat) {
        st->have_memory = true;
        memory_from_stat(st, stat, true);
        read_u64(max, &st->memory_limit);
    }
}

int crimp_cgroup_stats_of_pid(pid_t pid, struct crimp_cgroup_stats *st, crimp_error_t *err)
{
    memset(st, 0, sizeof(*st));
    cleanup_free char *path = xasprintf("/proc/%d/cgroup", (int)pid);
    cleanup_free char *proc = read_text(path);
    if (proc == NULL)
        return crimp_make_errno_error(err, errno, "read %s", path);
    read_v1(proc, st); /* v1 controllers first: on hybrid hosts they hold the data */
    read_v2(proc, st);
    return 0;
}

#define RATE_SLOTS 1024

struct rate_slot {
    char key[72];
    int64_t when_ns;
    uint64_t usage_ns;
};

struct crimp_cpu_rates {
    pthread_mutex_t lock;
    struct rate_slot slots[RATE_SLOTS]; /* keyed by hash; a collision just restarts a rate */
};

struct crimp_cpu_rates *crimp_cpu_rates_new(void)
{
    struct crimp_cpu_rates *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void crimp_cpu_rates_free(struct crimp_cpu_rates *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

bool crimp_cpu_rate(struct crimp_cpu_rates *r, const char *key, int64_t now_ns,
                    uint64_t usage_ns, uint64_t *nano_cores)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    struct rate_slot *s = &r->slots[h % RATE_SLOTS];
    bool ok = false;
    pthread_mutex_lock(&r->lock);
    if (strncmp(s->key, key, sizeof(s->key)) == 0 && now_ns > s->when_ns &&
        usage_ns >= s->usage_ns) {
        *nano_cores = (uint64_t)((double)(usage_ns - s->usage_ns) * 1e9 /
                                 (double)(now_ns - s->when_ns));
        ok = true;
    }
    snprintf(s->key, sizeof(s->key), "%s", key);
    s->when_ns = now_ns;
    s->usage_ns = usage_ns;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

size_t crimp_parse_net_dev(const char *text, struct crimp_netdev *out, size_t max)
{
    size_t n = 0;
    const char *line = text;
    for (int skip = 0; line && skip < 2; skip++) /* two header lines */
        line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    while (line && *line && n < max) {
        char name[32];
        unsigned long long v[16];
        if (sscanf(line, " %31[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                   &v[10]) == 12 &&
            strcmp(name, "lo") != 0) {
            struct crimp_netdev *d = &out[n++];
            snprintf(d->name, sizeof(d->name), "%s", name);
            d->rx_bytes = v[0];
            d->rx_errors = v[2];
            d->tx_bytes = v[8];
            d->tx_errors = v[10];
        }
        line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    }
    return n;
}

size_t crimp_netdev_of_pid(pid_t pid, struct crimp_netdev *out, size_t max)
{
    cleanup_free char *path = xasprintf("/proc/%d/net/dev", (int)pid);
    cleanup_free char *text = read_text(path);
    return text ? crimp_parse_net_dev(text, out, max) : 0;
}
