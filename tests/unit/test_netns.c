/* Unit tests for backends/common/netns.c: a pinned namespace is a new,
 * empty network namespace (only lo) that outlives the thread that made it,
 * the caller's own namespace is untouched, and removal is idempotent.
 * Creating namespaces needs root; those tests skip without it.  */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/netns.h"
#include "unit.h"
#include "utils.h"

static ino_t netns_inode(const char *ns_file)
{
    struct stat st;
    return stat(ns_file, &st) == 0 ? st.st_ino : 0;
}

/* What a thread that joined the namespace at PATH sees.  */
struct inside {
    const char *path;
    ino_t inode;
    int n_links;
    bool only_lo;
};

static void *look_inside(void *arg)
{
    struct inside *in = arg;
    int fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    close(fd);
    in->inode = netns_inode("/proc/thread-self/ns/net");
    struct if_nameindex *ifs = if_nameindex();
    in->only_lo = ifs != NULL;
    for (struct if_nameindex *i = ifs; i && i->if_index != 0; i++) {
        in->n_links++;
        in->only_lo = in->only_lo && strcmp(i->if_name, "lo") == 0;
    }
    if_freenameindex(ifs);
    return NULL; /* the thread dies with the namespace joined */
}

static struct inside enter(const char *path)
{
    struct inside in = {.path = path};
    pthread_t t;
    if (pthread_create(&t, NULL, look_inside, &in) == 0)
        pthread_join(t, NULL);
    return in;
}

static bool is_uuid_v4(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static char root[] = "/tmp/crimp-netns-XXXXXX";

static char *temp_dir(void)
{
    char *d = xasprintf("%s/XXXXXX", root);
    if (mkdtemp(d) == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

/* A failed check may leave a namespace mounted: unmount everything under
 * ROOT before removing it.  */
static int unmount_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (type == FTW_F)
        umount2(path, MNT_DETACH);
    return 0;
}

static int remove_root(void)
{
    nftw(root, unmount_cb, 16, FTW_PHYS);
    cleanup_free char *rm = xasprintf("rm -rf %s", root);
    return system(rm);
}

static int test_plain_file_is_not_pinned(void)
{
    cleanup_free char *dir = temp_dir();
    CHECK(dir != NULL);
    cleanup_free char *f = xasprintf("%s/plain", dir);
    close(open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    CHECK(!netns_is_pinned(f));
    CHECK(!netns_is_pinned("/nonexistent/crimp/netns"));
    CHECK(netns_is_pinned("/proc/self/ns/net")); /* nsfs itself */
    crimp_error_t err = NULL;
    CHECK(netns_remove(f, &err) == 0); /* never mounted: just unlinked */
    CHECK(access(f, F_OK) < 0 && errno == ENOENT);
    CHECK(rmdir(dir) == 0);
    return 0;
}

static int test_create_pins_a_new_empty_namespace(void)
{
    if (geteuid() != 0)
        return 77;
    cleanup_free char *dir = temp_dir();
    CHECK(dir != NULL);
    cleanup_free char *nsdir = xasprintf("%s/run/netns", dir); /* created by netns_create */
    ino_t host = netns_inode("/proc/self/ns/net");
    crimp_error_t err = NULL;
    cleanup_free char *path = NULL;
    CHECK(netns_create(nsdir, &path, &err) == 0);
    CHECK(has_prefix(path, nsdir) && has_prefix(path + strlen(nsdir), "/cni-"));
    CHECK(is_uuid_v4(path + strlen(nsdir) + strlen("/cni-")));
    CHECK(netns_is_pinned(path));
    CHECK(netns_inode("/proc/self/ns/net") == host); /* ours did not move */
    CHECK(netns_inode("/proc/thread-self/ns/net") == host);

    struct inside in = enter(path);
    CHECK(in.inode != 0 && in.inode != host);
    CHECK(in.inode == netns_inode(path));
    CHECK(in.n_links == 1 && in.only_lo);

    cleanup_free char *other = NULL;
    CHECK(netns_create(nsdir, &other, &err) == 0);
    CHECK(strcmp(other, path) != 0);
    CHECK(netns_inode(other) != in.inode && netns_inode(other) != host);

    CHECK(netns_remove(path, &err) == 0);
    CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    CHECK(!netns_is_pinned(path));
    CHECK(netns_remove(path, &err) == 0); /* twice is fine */
    CHECK(netns_is_pinned(other));        /* the other one is untouched */
    CHECK(netns_remove(other, &err) == 0);
    CHECK(access(other, F_OK) < 0);
    CHECK(rmdir(nsdir) == 0); /* nothing left behind */
    cleanup_free char *run = xasprintf("%s/run", dir);
    CHECK(rmdir(run) == 0 && rmdir(dir) == 0);
    return 0;
}

/* Runs netns_create as an unprivileged user: unshare fails, and the file
 * it made must be gone again.  Exit code 0 = as expected.  */
static int create_unprivileged(const char *dir)
{
    if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
        return 2;
    crimp_error_t err = NULL;
    char *path = NULL;
    if (netns_create(dir, &path, &err) == 0)
        return 3;
    bool named =
        err && strstr(err->msg, "unshare") != NULL && err->code == GRPC_STATUS_PERMISSION_DENIED;
    crimp_error_release(&err);
    return named ? 0 : 4;
}

static int test_failure_leaves_no_file(void)
{
    cleanup_free char *dir = temp_dir();
    CHECK(dir != NULL);
    CHECK(chmod(root, 0711) == 0 && chmod(dir, 0777) == 0);
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(create_unprivileged(dir));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(rmdir(dir) == 0); /* fails if a cni-* file was left */
    return 0;
}

static int test_bad_directory_is_an_error(void)
{
    cleanup_free char *dir = temp_dir();
    CHECK(dir != NULL);
    cleanup_free char *file = xasprintf("%s/file", dir);
    close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    cleanup_free char *under = xasprintf("%s/netns", file);
    crimp_error_t err = NULL;
    char *path = NULL;
    CHECK(netns_create(under, &path, &err) < 0);
    CHECK(err != NULL && strstr(err->msg, under) != NULL);
    CHECK(path == NULL);
    crimp_error_release(&err);
    CHECK(unlink(file) == 0 && rmdir(dir) == 0);
    return 0;
}

int main(void)
{
    if (mkdtemp(root) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_plain_file_is_not_pinned),
        UNIT_TEST(test_create_pins_a_new_empty_namespace),
        UNIT_TEST(test_failure_leaves_no_file),
        UNIT_TEST(test_bad_directory_is_an_error),
    };
    int ret = unit_run(tests, sizeof(tests) / sizeof(tests[0]));
    if (remove_root() != 0)
        ret = 1;
    return ret;
}
