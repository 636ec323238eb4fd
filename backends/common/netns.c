/* Pinned network namespaces, made the way containerd's CRI plugin makes
 * them (pkg/netns): an empty file, a thread that moves itself into a new
 * namespace, and a bind mount of that thread's namespace onto the file.
 * The mount keeps the namespace alive after the thread is gone.  */
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "checkpoint.h"
#include "utils.h"

/* The 8-4-4-4-12 form of a random (version 4) UUID, as containerd names
 * its namespaces cni-<uuid>.  */
static int random_uuid(char out[37], crimp_error_t *err)
{
    uint8_t b[16];
    if (crimp_random_bytes(b, sizeof(b), err) < 0)
        return -1;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

struct pin_job {
    const char *path;
    int errno_;       /* 0 on success */
    const char *what; /* the step that failed */
};

/* Runs on its own thread: unshare(CLONE_NEWNET) changes only the calling
 * thread, so the daemon's other threads never see the new namespace, and
 * the thread is thrown away afterwards instead of switching back.  */
static void *pin_thread(void *arg)
{
    struct pin_job *job = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        job->errno_ = errno;
        job->what = "unshare";
        return NULL;
    }
    char src[64];
    snprintf(src, sizeof(src), "/proc/self/task/%d/ns/net", (int)gettid());
    if (mount(src, job->path, "none", MS_BIND, NULL) < 0) {
        job->errno_ = errno;
        job->what = "bind mount";
    }
    return NULL;
}

static int pin_new_netns(const char *path, crimp_error_t *err)
{
    struct pin_job job = {.path = path};
    pthread_t t;
    int e = pthread_create(&t, NULL, pin_thread, &job);
    if (e != 0)
        return crimp_make_errno_error(err, e, "netns `%s`: start thread", path);
    pthread_join(t, NULL);
    if (job.errno_ != 0)
        return crimp_make_errno_error(err, job.errno_, "netns `%s`: %s", path, job.what);
    return 0;
}

int netns_create(const char *dir, char **path, crimp_error_t *err)
{
    if (crimp_mkdir_p(dir, 0755, err) < 0)
        return crimp_error_wrap(err, "netns directory");
    char uuid[37];
    if (random_uuid(uuid, err) < 0)
        return crimp_error_wrap(err, "netns name");
    cleanup_free char *p = xasprintf("%s/cni-%s", dir, uuid);
    int fd = open(p, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return crimp_make_errno_error(err, errno, "netns `%s`: create", p);
    close(fd);
    if (pin_new_netns(p, err) < 0) {
        unlink(p);
        return -1;
    }
    *path = steal_ptr(&p);
    return 0;
}

int netns_is_pinned(const char *path)
{
    struct statfs st;
    return statfs(path, &st) == 0 && st.f_type == NSFS_MAGIC;
}

int netns_remove(const char *path, crimp_error_t *err)
{
    /* EINVAL: not a mount point after all (unmounted meanwhile).  */
    if (netns_is_pinned(path) && umount2(path, MNT_DETACH) < 0 && errno != EINVAL &&
        errno != ENOENT)
        return crimp_make_errno_error(err, errno, "netns `%s`: unmount", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return crimp_make_errno_error(err, errno, "netns `%s`: remove", path);
    return 0;
}

struct addr_job {
    const char *path, *ifname;
    json_t *ips;
    int errno_;
    const char *what;
};

static bool global_address(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) != 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_LOOPBACK(a);
    }
    return false;
}

/* Runs on its own thread, which enters the namespace and is thrown away.  */
static void *addr_thread(void *arg)
{
    struct addr_job *job = arg;
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        job->errno_ = errno;
        job->what = fd < 0 ? "open" : "setns";
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    close(fd);
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) < 0) {
        job->errno_ = errno;
        job->what = "getifaddrs";
        return NULL;
    }
    for (int family = AF_INET; family != 0; family = family == AF_INET ? AF_INET6 : 0)
        for (struct ifaddrs *a = list; a; a = a->ifa_next) {
            if (a->ifa_addr == NULL || a->ifa_addr->sa_family != family ||
                strcmp(a->ifa_name, job->ifname) != 0 || !global_address(a->ifa_addr))
                continue;
            char text[INET6_ADDRSTRLEN];
            const void *bin = family == AF_INET
                                  ? (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
                                  : (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
            if (inet_ntop(family, bin, text, sizeof(text)))
                json_array_append_new(job->ips, json_string(text));
        }
    freeifaddrs(list);
    return NULL;
}

int netns_addresses(const char *path, const char *ifname, json_t **ips, crimp_error_t *err)
{
    struct addr_job job = {.path = path, .ifname = ifname, .ips = json_array()};
    pthread_t t;
    int e = pthread_create(&t, NULL, addr_thread, &job);
    if (e != 0) {
        json_decref(job.ips);
        return crimp_make_errno_error(err, e, "netns `%s`: start thread", path);
    }
    pthread_join(t, NULL);
    if (job.errno_ != 0) {
        json_decref(job.ips);
        return crimp_make_errno_error(err, job.errno_, "netns `%s`: %s", path, job.what);
    }
    *ips = job.ips;
    return 0;
}
