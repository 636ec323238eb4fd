/* Running one CNI plugin: the spec's exec protocol (environment in, config
 * on stdin, result or error JSON on stdout), with a timeout.  */
#include "cni-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trace.h"
#include "utils.h"

extern char **environ;

char *cni_find_plugin(const char *bin_dirs, const char *type)
{
    if (strchr(type, '/') != NULL || type[0] == '.' || type[0] == '\0')
        return NULL; /* a type is a file name, never a path */
    cleanup_free char *dirs = xstrdup(bin_dirs);
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char *path = xasprintf("%s/%s", d, type);
        if (access(path, X_OK) == 0)
            return path;
        free(path);
    }
    return NULL;
}

struct pipes {
    int in[2], out[2], errp[2];
};

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
    p[0] = p[1] = -1;
}

static char **plugin_env(const struct cni_invocation *inv)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = xcalloc(n + 8, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!has_prefix(environ[i], "CNI_"))
            env[k++] = xstrdup(environ[i]);
    env[k++] = xasprintf("CNI_COMMAND=%s", inv->command);
    env[k++] = xasprintf("CNI_CONTAINERID=%s", inv->container_id);
    env[k++] = xasprintf("CNI_NETNS=%s", inv->netns ? inv->netns : "");
    env[k++] = xasprintf("CNI_IFNAME=%s", inv->ifname);
    env[k++] = xasprintf("CNI_ARGS=%s", inv->args ? inv->args : "");
    env[k++] = xasprintf("CNI_PATH=%s", inv->bin_dirs);
    return env;
}

static void free_env(char **env)
{
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}

/* Appends what is readable on FD to *BUF; returns 0 at EOF.  */
static int drain(int fd, char **buf, size_t *len)
{
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    if (*len < 1 << 20) { /* a plugin has no business writing more */
        *buf = xrealloc(*buf, *len + (size_t)n + 1);
        memcpy(*buf + *len, chunk, (size_t)n);
        *len += (size_t)n;
        (*buf)[*len] = '\0';
    }
    return 1;
}

/* The plugin dies with crimpd (PR_SET_PDEATHSIG): a crimpd killed during an
 * ADD must not leave the plugin to finish it after the restarted crimpd's
 * recovery ran its DEL, which would lease an IP nothing records.  vfork,
 * as posix_spawn does, which has no way to ask for that; the child makes
 * nothing but system calls before it execs or exits.  Its own function,
 * so that no local of the caller lives across the vfork.  */
__attribute__((noinline)) static pid_t vfork_exec(const char *path, char *const *argv,
                                                  char *const *env, const struct pipes *p,
                                                  pid_t parent, const sigset_t *mask)
{
    pid_t child = vfork();
    if (child == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
            dup2(p->in[0], 0) < 0 || dup2(p->out[1], 1) < 0 || dup2(p->errp[1], 2) < 0)
            _exit(127);
        sigprocmask(SIG_SETMASK, mask, NULL);
        execve(path, argv, env);
        _exit(127);
    }
    return child;
}

static int spawn(const char *path, const struct cni_invocation *inv, struct pipes *p, pid_t *pid)
{
    char **env = plugin_env(inv);
    char *argv[] = {(char *)path, NULL};
    sigset_t all, old;
    sigfillset(&all);
    /* No handler of crimpd's may run in the child before exec.  */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    *pid = vfork_exec(path, argv, env, p, getpid(), &old);
    int rc = *pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free_env(env);
    return rc;
}

/* Feeds stdin and gathers stdout/stderr until both close or the deadline.  */
static bool collect(struct pipes *p, const char *input, struct cni_output *out, int64_t deadline)
{
    size_t in_len = strlen(input), in_off = 0, out_len = 0, err_len = 0;
    bool out_open = true, err_open = true;
    fcntl(p->in[1], F_SETFL, O_NONBLOCK);
    while (out_open || err_open) {
        struct pollfd fds[3] = {{p->out[0], POLLIN, 0}, {p->errp[0], POLLIN, 0},
                                {p->in[1], POLLOUT, 0}};
        fds[0].fd = out_open ? p->out[0] : -1;
        fds[1].fd = err_open ? p->errp[0] : -1;
        fds[2].fd = p->in[1];
        int64_t left_ms = (deadline - crimp_now_mono_ns()) / 1000000;
        if (left_ms <= 0)
            return false;
        if (poll(fds, 3, (int)(left_ms > 1000 ? 1000 : left_ms)) < 0 && errno != EINTR)
            return false;
        if (fds[0].revents && !drain(p->out[0], &out->out, &out_len))
            out_open = false;
        if (fds[1].revents && !drain(p->errp[0], &out->err, &err_len))
            err_open = false;
        if (p->in[1] >= 0 && fds[2].revents) {
            ssize_t n = write(p->in[1], input + in_off, in_len - in_off);
            if (n > 0)
                in_off += (size_t)n;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                in_off = in_len;
            if (in_off == in_len) {
                close(p->in[1]);
                p->in[1] = -1;
            }
        }
    }
    return true;
}

int cni_exec_plugin(const struct cni_invocation *inv, const char *stdin_text,
                    struct cni_output *out, crimp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    cleanup_free char *path = cni_find_plugin(inv->bin_dirs, inv->type);
    if (path == NULL)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "cni: plugin `%s` not found in %s", inv->type, inv->bin_dirs);
    struct pipes p = {{-1, -1}, {-1, -1}, {-1, -1}};
    if (pipe2(p.in, O_CLOEXEC) < 0 || pipe2(p.out, O_CLOEXEC) < 0 || pipe2(p.errp, O_CLOEXEC) < 0) {
        int e = errno;
        close_pair(p.in), close_pair(p.out), close_pair(p.errp);
        return crimp_make_errno_error(err, e, "cni: pipe");
    }
    int64_t started = crimp_now_mono_ns();
    pid_t pid;
    int rc = spawn(path, inv, &p, &pid);
    close(p.in[0]), close(p.out[1]), close(p.errp[1]);
    p.in[0] = p.out[1] = p.errp[1] = -1;
    if (rc != 0) {
        close_pair(p.in), close_pair(p.out), close_pair(p.errp);
        return crimp_make_errno_error(err, rc, "cni: cannot run %s", path);
    }
    int64_t deadline = started + (int64_t)inv->timeout_seconds * 1000000000;
    bool finished = collect(&p, stdin_text, out, deadline);
    if (!finished)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    close_pair(p.in), close_pair(p.out), close_pair(p.errp);
    out->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    char span[CRIMP_TRACE_NAME_LEN];
    snprintf(span, sizeof(span), "%s %s", inv->type, inv->command);
    crimp_trace_span(CRIMP_SPAN_CNI, span, out->status, started, crimp_now_mono_ns());
    if (!finished)
        return crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                                "cni: plugin %s %s took longer than %d s", inv->type,
                                inv->command, inv->timeout_seconds);
    return 0;
}

void cni_output_release(struct cni_output *o)
{
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof(*o));
}
