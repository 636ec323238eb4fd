/* Containerd shims that nothing uses any more, in crimp's namespace.
 *
 * containerd 1.6 leaks a shim process when the call that made it is cut
 * short: Tasks/Create cancelled (or containerd dying) while the shim sets
 * the task up, Tasks/Delete cancelled between the task's deletion and the
 * shim's shutdown.  A crimpd killed mid-call cancels all its calls, so
 * crimp's faults make such shims; containerd then knows nothing of them,
 * and they idle until the host reboots.  crimp owns its namespace, so it
 * ends them: a `containerd-shim*` process whose flags name this backend's
 * namespace and containerd socket, whose -id is no container's (nor a
 * container group's, nor a call's in flight) and that has no child is sent
 * SIGTERM, then SIGKILL.  The process list is read before containerd's
 * containers: a shim found is one containerd started for a container that
 * existed then, so a shim of a container being made is always in use.  */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "log.h"
#include "shim_sweep.h"
#include "utils.h"

#define SHIM_GROUP_LABEL "io.containerd.runc.v2.group"
#define SHIM_TERM_GRACE_MS 2000
#define SHIM_KILL_WAIT_MS  1000
#define SHIM_POLL_MS       20

/* ---- the decision (pure) ---------------------------------------------- */

static const char *flag_value(char *const *argv, size_t argc, size_t *i, const char *name)
{
    const char *a = argv[*i];
    if (a[0] != '-')
        return NULL;
    a += a[1] == '-' ? 2 : 1;
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0' || *i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

bool ctrd_shim_args_parse(char *const *argv, size_t argc, struct ctrd_shim_args *a)
{
    *a = (struct ctrd_shim_args){0};
    if (argc == 0 || argv[0] == NULL)
        return false;
    const char *base = strrchr(argv[0], '/');
    if (!has_prefix(base ? base + 1 : argv[0], "containerd-shim"))
        return false;
    for (size_t i = 1; i < argc; i++) {
        const char *v;
        if ((v = flag_value(argv, argc, &i, "namespace")) != NULL)
            a->ns = v;
        else if ((v = flag_value(argv, argc, &i, "id")) != NULL)
            a->id = v;
        else if ((v = flag_value(argv, argc, &i, "address")) != NULL)
            a->address = v;
    }
    return !str_empty(a->ns) && !str_empty(a->id) && !str_empty(a->address);
}

const char *ctrd_endpoint_path(const char *endpoint)
{
    if (has_prefix(endpoint, "unix://"))
        return endpoint + strlen("unix://");
    if (has_prefix(endpoint, "unix:"))
        return endpoint + strlen("unix:");
    return endpoint;
}

static bool same_socket(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    cleanup_free char *ra = realpath(a, NULL);
    cleanup_free char *rb = realpath(b, NULL);
    return ra && rb && strcmp(ra, rb) == 0;
}

enum ctrd_shim_verdict ctrd_shim_judge(const struct ctrd_shim_args *a, const char *ns,
                                       const char *socket, json_t *in_use, bool has_child)
{
    if (strcmp(a->ns, ns) != 0 || !same_socket(a->address, ctrd_endpoint_path(socket)))
        return CTRD_SHIM_NOT_OURS;
    if (json_object_get(in_use, a->id) != NULL)
        return CTRD_SHIM_IN_USE;
    return has_child ? CTRD_SHIM_BUSY : CTRD_SHIM_ORPHAN;
}

/* ---- /proc ------------------------------------------------------------- */

struct shim_proc {
    pid_t pid;
    char *id;
    size_t children;
};

/* The NUL-separated command line of PID, split into a NULL-terminated
 * argv that points into *BUF; NULL when the process is gone or a kernel
 * thread.  */
static char **read_argv(pid_t pid, char **buf, size_t *argc)
{
    cleanup_free char *path = xasprintf("/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *b = xmalloc(cap + 1);
    size_t r;
    while ((r = fread(b + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap && cap < (1u << 20))
            b = xrealloc(b, (cap *= 2) + 1);
        else if (len == cap)
            break;
    }
    fclose(f);
    if (len == 0) {
        free(b);
        return NULL;
    }
    b[len] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += b[i] == '\0' || i + 1 == len;
    char **argv = xcalloc(n + 1, sizeof(*argv));
    size_t k = 0;
    for (char *p = b; p < b + len && k < n; p += strlen(p) + 1)
        argv[k++] = p;
    *buf = b;
    *argc = k;
    return argv;
}

/* The shim ID of PID when it is a shim of (NS, SOCKET), else NULL.  */
static char *our_shim_id(pid_t pid, const char *ns, const char *socket)
{
    cleanup_free char *buf = NULL;
    size_t argc = 0;
    cleanup_free char **argv = read_argv(pid, &buf, &argc);
    struct ctrd_shim_args a;
    if (argv == NULL || !ctrd_shim_args_parse(argv, argc, &a) ||
        ctrd_shim_judge(&a, ns, socket, NULL, true) == CTRD_SHIM_NOT_OURS)
        return NULL;
    return xstrdup(a.id);
}

/* Parent and state of PID from /proc/PID/stat; false when it is gone.  */
static bool read_stat(pid_t pid, pid_t *ppid, char *state)
{
    cleanup_free char *path = xasprintf("/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    char line[1024];
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    const char *p = ok ? strrchr(line, ')') : NULL; /* the name may hold spaces */
    int pp = 0;
    if (p == NULL || sscanf(p + 1, " %c %d", state, &pp) != 2)
        return false;
    *ppid = pp;
    return true;
}

static bool is_pid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Every shim of (NS, SOCKET) with its count of live children.  */
static struct shim_proc *scan_shims(const char *ns, const char *socket, size_t *n)
{
    *n = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return NULL;
    struct shim_proc *v = NULL;
    pid_t *parents = NULL;
    size_t np = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_pid_name(e->d_name))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name), ppid;
        char state;
        if (!read_stat(pid, &ppid, &state) || state == 'Z')
            continue;
        if (np == cap)
            parents = xrealloc(parents, (cap = cap ? cap * 2 : 256) * sizeof(*parents));
        parents[np++] = ppid;
        char *id = our_shim_id(pid, ns, socket);
        if (id == NULL)
            continue;
        v = xrealloc(v, (*n + 1) * sizeof(*v));
        v[(*n)++] = (struct shim_proc){.pid = pid, .id = id};
    }
    closedir(d);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < np; j++)
            v[i].children += parents[j] == v[i].pid;
    free(parents);
    return v;
}

/* Whether PID is gone (or a zombie its parent has yet to reap).  */
static bool gone(pid_t pid)
{
    pid_t ppid;
    char state;
    return !read_stat(pid, &ppid, &state) || state == 'Z';
}

static bool wait_gone(const struct shim_proc *v, size_t n, const bool *orphan, int ms)
{
    for (int waited = 0;; waited += SHIM_POLL_MS) {
        bool all = true;
        for (size_t i = 0; i < n && all; i++)
            all = !orphan[i] || gone(v[i].pid);
        if (all || waited >= ms)
            return all;
        usleep(SHIM_POLL_MS * 1000);
    }
}

/* ---- containerd's side ------------------------------------------------- */

/* The IDs a shim of this namespace may serve: containers, their groups
 * (the runc shim also groups by the io.kubernetes.cri.sandbox-id spec
 * annotation crimp sets: a pod's containers run under its sandbox's shim,
 * so every pod on record counts even once its sandbox container is gone),
 * and calls in flight in this crimpd.  */
static json_t *ids_in_use(struct ctrd_backend *b, crimp_error_t *err)
{
    Containerd__Services__Containers__V1__ListContainersResponse *resp =
        ctrd_containerd_containers(b, err);
    if (resp == NULL)
        return NULL;
    json_t *set = json_object();
    for (size_t i = 0; i < resp->n_containers; i++) {
        Containerd__Services__Containers__V1__Container *c = resp->containers[i];
        const char *group = ctrd_container_label(c, SHIM_GROUP_LABEL);
        json_object_set_new(set, c->id, json_true());
        if (group != NULL)
            json_object_set_new(set, group, json_true());
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    size_t n = 0;
    struct ctrd_sandbox **pods = ctrd_sandboxes(b, &n);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(set, pods[i]->id, json_true());
    ctrd_sandboxes_put_all(pods, n);
    ctrd_live_intents_into(b, set);
    return set;
}

/* SIGNO to orphan S, unless its PID now names another process.  */
static void signal_orphan(const struct shim_proc *s, const char *ns, const char *socket,
                          int signo)
{
    cleanup_free char *id = our_shim_id(s->pid, ns, socket);
    if (id != NULL && strcmp(id, s->id) == 0)
        kill(s->pid, signo);
}

int ctrd_sweep_shims(struct ctrd_backend *b, size_t *killed, crimp_error_t *err)
{
    *killed = 0;
    const char *ns = ctrd_conn_namespace(b->conn);
    const char *socket = b->shim_address;
    size_t n = 0;
    struct shim_proc *v = scan_shims(ns, socket, &n);
    if (n == 0)
        return 0;
    json_auto_t *in_use = ids_in_use(b, err);
    cleanup_free bool *orphan = xcalloc(n, sizeof(*orphan));
    for (size_t i = 0; in_use != NULL && i < n; i++) {
        struct ctrd_shim_args a = {.ns = ns, .id = v[i].id, .address = socket};
        orphan[i] = ctrd_shim_judge(&a, ns, socket, in_use, v[i].children > 0) == CTRD_SHIM_ORPHAN;
        if (orphan[i])
            signal_orphan(&v[i], ns, socket, SIGTERM);
    }
    if (in_use != NULL && !wait_gone(v, n, orphan, SHIM_TERM_GRACE_MS)) {
        for (size_t i = 0; i < n; i++)
            if (orphan[i] && !gone(v[i].pid))
                signal_orphan(&v[i], ns, socket, SIGKILL);
        wait_gone(v, n, orphan, SHIM_KILL_WAIT_MS);
    }
    for (size_t i = 0; i < n; i++) {
        if (orphan[i]) {
            bool dead = gone(v[i].pid);
            log_warn("containerd: shim pid %d of %.12s had no container, task or child: %s",
                     (int)v[i].pid, v[i].id, dead ? "ended" : "still there after SIGKILL");
            *killed += dead;
        }
        free(v[i].id);
    }
    free(v);
    return in_use != NULL ? 0 : crimp_error_wrap(err, "shim sweep");
}
