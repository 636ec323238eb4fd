/* Unit tests for common/safe_open.c: what an image may put where crimp
 * reads (etc/passwd a symlink to a host file, to a FIFO, out through "..",
 * a FIFO itself, a directory) never makes crimp read a file outside the
 * root nor block; the same through the fallback walk used without
 * openat2(2).  */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe_open.h"
#include "unit.h"
#include "utils.h"

static char base[64], root[PATH_MAX], secret[PATH_MAX], fifo[PATH_MAX];

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int setup(void)
{
    snprintf(base, sizeof(base), "/tmp/crimp-safe-open.XXXXXX");
    CHECK(mkdtemp(base) != NULL);
    snprintf(root, sizeof(root), "%s/root", base);
    snprintf(secret, sizeof(secret), "%s/secret", base);
    snprintf(fifo, sizeof(fifo), "%s/fifo", base);
    cleanup_free char *etc = xasprintf("%s/etc", root);
    CHECK(mkdir(root, 0755) == 0 && mkdir(etc, 0755) == 0);
    put(secret, "host-secret\n");
    CHECK(mkfifo(fifo, 0600) == 0);
    cleanup_free char *p = xasprintf("%s/etc/passwd", root);
    put(p, "root:x:0:0::/root:/bin/sh\n");
    cleanup_free char *group = xasprintf("%s/etc/group.real", root);
    put(group, "root:x:0:\n");
    struct {
        const char *name, *target;
    } links[] = {{"etc/abs", secret},
                 {"etc/up", "../../secret"},
                 {"etc/hostfifo", fifo},
                 {"etc/group", "/etc/group.real"},
                 {"etc/magic", "/proc/self/fd/0"}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(links); i++) {
        cleanup_free char *l = xasprintf("%s/%s", root, links[i].name);
        CHECK(symlink(links[i].target, l) == 0);
    }
    cleanup_free char *own = xasprintf("%s/etc/fifo", root);
    CHECK(mkfifo(own, 0600) == 0);
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "blocked on a FIFO\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

/* Every case, once through openat2 and once through the fallback.  */
static int check_cases(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *text = crimp_read_in_root(root, "etc/passwd", 1 << 20, &err);
    CHECK(text && strcmp(text, "root:x:0:0::/root:/bin/sh\n") == 0);
    static const struct {
        const char *rel;
        grpc_status_code code;
    } refused[] = {
        {"etc/abs", GRPC_STATUS_NOT_FOUND}, /* /…/secret resolved inside root */
        {"etc/up", GRPC_STATUS_NOT_FOUND},  /* ../../secret stops at root */
        {"etc/hostfifo", GRPC_STATUS_NOT_FOUND},
        {"etc/magic", GRPC_STATUS_NOT_FOUND}, /* /proc inside root */
        {"etc/fifo", GRPC_STATUS_FAILED_PRECONDITION},
        {"etc", GRPC_STATUS_FAILED_PRECONDITION},
        {"../secret", GRPC_STATUS_NOT_FOUND},
        {"etc/none", GRPC_STATUS_NOT_FOUND},
    };
    alarm(10);
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(refused); i++) {
        char *t = crimp_read_in_root(root, refused[i].rel, 1 << 20, &err);
        if (t != NULL)
            fprintf(stderr, "%s: read \"%s\"\n", refused[i].rel, t);
        CHECK(t == NULL);
        if (!crimp_have_openat2() && err->code == GRPC_STATUS_FAILED_PRECONDITION)
            ; /* the fallback refuses every symlink as such */
        else if (err->code != refused[i].code)
            fprintf(stderr, "%s: %s\n", refused[i].rel, err->msg);
        CHECK(err->code == refused[i].code ||
              (!crimp_have_openat2() && err->code == GRPC_STATUS_FAILED_PRECONDITION));
        crimp_error_release(&err);
    }
    alarm(0);
    return 0;
}

static int test_open_in_root_openat2(void)
{
    if (!crimp_have_openat2())
        return 77;
    CHECK(check_cases() == 0);
    /* A symlink that stays inside the root is followed.  */
    crimp_error_t err = NULL;
    cleanup_free char *g = crimp_read_in_root(root, "/etc/group", 100, &err);
    CHECK(g && strcmp(g, "root:x:0:\n") == 0);
    return 0;
}

static int test_open_in_root_fallback(void)
{
    crimp_safe_open_force_fallback(true);
    int r = check_cases();
    crimp_error_t err = NULL;
    char *g = crimp_read_in_root(root, "etc/group", 100, &err);
    crimp_safe_open_force_fallback(false);
    CHECK(r == 0);
    CHECK(g == NULL && err->code == GRPC_STATUS_FAILED_PRECONDITION); /* no symlink at all */
    crimp_error_release(&err);
    return 0;
}

/* A planted symlink or FIFO where crimp writes its own file.  */
static int test_open_regular(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *log = xasprintf("%s/c.log", base);
    int fd = crimp_open_regular(log, O_WRONLY | O_APPEND | O_CREAT, 0640, &err);
    CHECK(fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
    close(fd);
    cleanup_free char *link = xasprintf("%s/link.log", base);
    CHECK(symlink(secret, link) == 0);
    CHECK(crimp_open_regular(link, O_WRONLY | O_APPEND | O_CREAT, 0640, &err) < 0);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    crimp_error_release(&err);
    alarm(10);
    CHECK(crimp_open_regular(fifo, O_RDONLY, 0, &err) < 0);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    crimp_error_release(&err);
    CHECK(crimp_open_regular(fifo, O_WRONLY | O_APPEND, 0, &err) < 0); /* ENXIO: no reader */
    crimp_error_release(&err);
    alarm(0);
    return 0;
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    if (setup() != 0)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_open_in_root_openat2),
        UNIT_TEST(test_open_in_root_fallback),
        UNIT_TEST(test_open_regular),
    };
    int r = unit_run(tests, CRIMP_ARRAY_SIZE(tests));
    cleanup_free char *cmd = xasprintf("rm -rf '%s'", base);
    (void)!system(cmd);
    return r;
}
