/* cgroup v1 and v2 stats files.  */
#include "cgroup.h"

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "utils.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

static char *copy_prefix(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

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

void crimp_cgroup_dirs_release(struct crimp_cgroup_dirs *dirs)
{
    free(dirs->cpuacct);
    free(dirs->memory);
    free(dirs->pids);
    free(dirs->unified);
    memset(dirs, 0, sizeof(*dirs));
}

/* ROOT + PATH when that directory exists, else NULL.  */
static char *existing_dir(const char *root, const char *path)
{
    char *dir = xasprintf("%s%s", root, path);
    if (access(dir, F_OK) == 0)
        return dir;
    free(dir);
    return NULL;
}

static char *v1_dir(const char *proc, const char *controller)
{
    cleanup_free char *path = crimp_cgroup_path_for(proc, controller);
    if (path == NULL)
        return NULL;
    cleanup_free char *root = xasprintf(CGROUP_ROOT "/%s", controller);
    return existing_dir(root, path);
}

int crimp_cgroup_dirs_of_pid(pid_t pid, struct crimp_cgroup_dirs *dirs, crimp_error_t *err)
{
    memset(dirs, 0, sizeof(*dirs));
    cleanup_free char *path = xasprintf("/proc/%d/cgroup", (int)pid);
    cleanup_free char *proc = read_text(path);
    if (proc == NULL)
        return crimp_make_errno_error(err, errno, "read %s", path);
    dirs->cpuacct = v1_dir(proc, "cpuacct");
    dirs->memory = v1_dir(proc, "memory");
    dirs->pids = v1_dir(proc, "pids");
    cleanup_free char *v2 = crimp_cgroup_path_for(proc, "");
    if (v2)
        dirs->unified = existing_dir(v2_root(), v2);
    return 0;
}

char *crimp_cgroup_systemd_path(const char *path)
{
    const char *c1 = strchr(path, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL || strchr(c2 + 1, ':') || c1 - path < 6 ||
        strncmp(c1 - 6, ".slice", 6) != 0)
        return NULL;
    /* "a-b-c.slice" lives in a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root.  */
    cleanup_free char *slice = copy_prefix(path, (size_t)(c1 - path - 6));
    cleanup_free char *out = xstrdup("");
    if (strcmp(slice, "-") != 0)
        for (char *dash = slice;; dash++) {
            dash = strchr(dash, '-');
            if (dash)
                *dash = '\0';
            char *longer = xasprintf("%s/%s.slice", out, slice);
            free(out);
            out = longer;
            if (dash == NULL)
                break;
            *dash = '-';
        }
    cleanup_free char *prefix = copy_prefix(c1 + 1, (size_t)(c2 - c1 - 1));
    const char *name = c2 + 1;
    if (has_suffix(name, ".slice"))
        return xasprintf("%s/%s", out, name);
    if (prefix[0] == '\0')
        return xasprintf("%s/%s", out, name);
    return xasprintf("%s/%s-%s.scope", out, prefix, name);
}

void crimp_cgroup_dirs_of_path(const char *path, struct crimp_cgroup_dirs *dirs)
{
    memset(dirs, 0, sizeof(*dirs));
    cleanup_free char *systemd = crimp_cgroup_systemd_path(path);
    cleanup_free char *rel = systemd ? xstrdup(systemd)
                             : path[0] == '/' ? xstrdup(path) : xasprintf("/%s", path);
    dirs->cpuacct = existing_dir(CGROUP_ROOT "/cpuacct", rel);
    dirs->memory = existing_dir(CGROUP_ROOT "/memory", rel);
    dirs->pids = existing_dir(CGROUP_ROOT "/pids", rel);
    dirs->unified = existing_dir(v2_root(), rel);
}

static bool read_file_u64(const char *dir, const char *file, uint64_t *v)
{
    cleanup_free char *p = xasprintf("%s/%s", dir, file);
    return read_u64(p, v);
}

static char *read_file_text(const char *dir, const char *file)
{
    cleanup_free char *p = xasprintf("%s/%s", dir, file);
    return read_text(p);
}

static void read_v1(const struct crimp_cgroup_dirs *dirs, struct crimp_cgroup_stats *st)
{
    if (dirs->cpuacct)
        st->have_cpu = read_file_u64(dirs->cpuacct, "cpuacct.usage", &st->cpu_usage_ns);
    if (dirs->memory) {
        cleanup_free char *stat = read_file_text(dirs->memory, "memory.stat");
        st->have_memory =
            read_file_u64(dirs->memory, "memory.usage_in_bytes", &st->memory_usage) && stat;
        if (stat)
            memory_from_stat(st, stat, false);
        read_file_u64(dirs->memory, "memory.limit_in_bytes", &st->memory_limit);
        if (st->memory_limit > (1ULL << 62)) /* v1's "unlimited" */
            st->memory_limit = 0;
    }
    if (dirs->pids)
        st->have_pids = read_file_u64(dirs->pids, "pids.current", &st->pids);
}

static void read_v2(const char *dir, struct crimp_cgroup_stats *st)
{
    uint64_t usec = 0;
    if (!st->have_cpu) {
        cleanup_free char *cpu_stat = read_file_text(dir, "cpu.stat");
        if (cpu_stat && crimp_cgroup_stat_value(cpu_stat, "usage_usec", &usec)) {
            st->cpu_usage_ns = usec * 1000;
            st->have_cpu = true;
        }
    }
    if (!st->have_memory && read_file_u64(dir, "memory.current", &st->memory_usage)) {
        cleanup_free char *stat = read_file_text(dir, "memory.stat");
        if (stat) {
            st->have_memory = true;
            memory_from_stat(st, stat, true);
            read_file_u64(dir, "memory.max", &st->memory_limit);
        }
    }
    if (!st->have_pids)
        st->have_pids = read_file_u64(dir, "pids.current", &st->pids);
}

void crimp_cgroup_stats_read(const struct crimp_cgroup_dirs *dirs, struct crimp_cgroup_stats *st)
{
    memset(st, 0, sizeof(*st));
    read_v1(dirs, st); /* v1 controllers first: on hybrid hosts they hold the data */
    if (dirs->unified)
        read_v2(dirs->unified, st);
}

int crimp_cgroup_stats_of_pid(pid_t pid, struct crimp_cgroup_stats *st, crimp_error_t *err)
{
    memset(st, 0, sizeof(*st));
    struct crimp_cgroup_dirs dirs;
    if (crimp_cgroup_dirs_of_pid(pid, &dirs, err) < 0)
        return -1;
    crimp_cgroup_stats_read(&dirs, st);
    crimp_cgroup_dirs_release(&dirs);
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
