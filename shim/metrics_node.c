/* The node-level series of /metrics: where the pods are during a cutover
 * (per backend), and what crimpd itself costs the node (process_*).  Both
 * are read from what crimpd holds or from /proc, never from a backend, so
 * a hung runtime cannot stall a scrape.  */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.h"
#include "metrics.h"
#include "router.h"
#include "utils.h"

static void backend_labels(FILE *out, const struct crimp_backend *b)
{
    fputs("{backend=\"", out);
    crimp_prom_escape(out, b->config->name);
    fputs("\"}", out);
}

static void write_gauge_family(struct crimp_router *r, FILE *out, const char *name,
                               const char *help, double (*value)(struct crimp_router *, size_t))
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; i < crimp_router_count(r); i++) {
        struct crimp_backend *b = crimp_router_get(r, i);
        if (b == NULL)
            continue; /* a slot a reload retired */
        fputs(name, out);
        backend_labels(out, b);
        fprintf(out, " %g\n", value(r, i));
    }
}

static double owned_pods(struct crimp_router *r, size_t i)
{
    size_t pods = 0, containers = 0;
    crimp_router_owned(r, i, &pods, &containers);
    return (double)pods;
}

static double owned_containers(struct crimp_router *r, size_t i)
{
    size_t pods = 0, containers = 0;
    crimp_router_owned(r, i, &pods, &containers);
    return (double)containers;
}

static double is_default(struct crimp_router *r, size_t i)
{
    return crimp_router_get(r, i) == crimp_router_default(r) ? 1 : 0;
}

static double is_draining(struct crimp_router *r, size_t i)
{
    return crimp_router_is_draining(r, i) ? 1 : 0;
}

static void write_info(struct crimp_router *r, FILE *out)
{
    fputs("# HELP crimp_backend_info A configured backend and its type.\n"
          "# TYPE crimp_backend_info gauge\n",
          out);
    for (size_t i = 0; i < crimp_router_count(r); i++) {
        struct crimp_backend *b = crimp_router_get(r, i);
        if (b == NULL)
            continue;
        fputs("crimp_backend_info{backend=\"", out);
        crimp_prom_escape(out, b->config->name);
        fputs("\",type=\"", out);
        crimp_prom_escape(out, b->config->type);
        fputs("\"} 1\n", out);
    }
}

void crimp_metrics_backends(struct crimp_router *r, FILE *out)
{
    write_info(r, out);
    write_gauge_family(r, out, "crimp_backend_pods", "Pod sandboxes the backend owns.",
                       owned_pods);
    write_gauge_family(r, out, "crimp_backend_containers", "Containers the backend owns.",
                       owned_containers);
    write_gauge_family(r, out, "crimp_backend_default",
                       "1 for the backend new pods go to, else 0.", is_default);
    write_gauge_family(r, out, "crimp_backend_draining",
                       "1 while the backend is draining (no new pods), else 0.", is_draining);
}

/* Fields of /proc/self/stat after the command (which may hold spaces).  */
struct proc_stat {
    unsigned long long utime, stime, starttime, vsize;
    long long rss_pages, threads;
};

static int read_proc_stat(struct proc_stat *st)
{
    char buf[1024];
    cleanup_file FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
        return -1;
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* From field 3 (state): utime is 14, stime 15, num_threads 20,
     * starttime 22, vsize 23, rss 24.  */
    return sscanf(p + 2,
                  "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %lld "
                  "%*d %llu %llu %lld",
                  &st->utime, &st->stime, &st->threads, &st->starttime, &st->vsize,
                  &st->rss_pages) == 6
               ? 0
               : -1;
}

static double boot_time_seconds(void)
{
    char line[128];
    cleanup_file FILE *f = fopen("/proc/stat", "re");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (has_prefix(line, "btime "))
            return strtod(line + 6, NULL);
    return 0;
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the one opendir holds */
}

static void write_one(FILE *out, const char *name, const char *type, const char *help, double v)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void crimp_metrics_process(FILE *out)
{
    struct proc_stat st;
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (read_proc_stat(&st) == 0 && tick > 0) {
        write_one(out, "process_cpu_seconds_total", "counter",
                  "User and system CPU time crimpd used.", (double)(st.utime + st.stime) / tick);
        write_one(out, "process_resident_memory_bytes", "gauge", "Resident memory of crimpd.",
                  (double)st.rss_pages * (double)sysconf(_SC_PAGESIZE));
        write_one(out, "process_virtual_memory_bytes", "gauge", "Virtual memory of crimpd.",
                  (double)st.vsize);
        write_one(out, "process_start_time_seconds", "gauge",
                  "When crimpd started, in seconds since the epoch.",
                  boot_time_seconds() + (double)st.starttime / tick);
        write_one(out, "crimp_process_threads", "gauge", "Threads crimpd runs now.",
                  (double)st.threads);
    }
    long fds = open_fds();
    if (fds >= 0)
        write_one(out, "process_open_fds", "gauge", "Open file descriptors of crimpd.",
                  (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        write_one(out, "process_max_fds", "gauge", "crimpd's limit of open file descriptors.",
                  (double)rl.rlim_cur);
}
