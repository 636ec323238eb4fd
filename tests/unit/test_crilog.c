/* Unit tests for backends/common/crilog.c: the CRI log format kubelet
 * parses, partial lines, long lines, and reopen after rotation.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crilog.h"
#include "unit.h"
#include "utils.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return xstrdup("");
    char *buf = xcalloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static char dir[] = "/tmp/crimp-crilog-XXXXXX";

static int test_time_format(void)
{
    char buf[48];
    crilog_format_time(1700000000123456789LL, buf, sizeof(buf));
    CHECK(strcmp(buf, "2023-11-14T22:13:20.123456789Z") == 0);
    crilog_format_time(1700000000000000001LL, buf, sizeof(buf));
    CHECK(strcmp(buf, "2023-11-14T22:13:20.000000001Z") == 0);
    return 0;
}

static int test_lines_and_partials(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *path = xasprintf("%s/pod/c/0.log", dir);
    struct crilog *l = crilog_open(path, &err);
    CHECK(l != NULL);
    int64_t t = 1700000000000000000LL;
    CHECK(crilog_write(l, CRILOG_STDOUT, t, "hello Wo", 8, &err) == 0);
    CHECK(crilog_write(l, CRILOG_STDERR, t, "oops\n", 5, &err) == 0);
    CHECK(crilog_write(l, CRILOG_STDOUT, t, "rld\nsecond\nthi", 14, &err) == 0);
    crilog_close(l); /* flushes "thi" */
    cleanup_free char *got = slurp(path);
    const char *want = "2023-11-14T22:13:20.000000000Z stderr F oops\n"
                       "2023-11-14T22:13:20.000000000Z stdout F hello World\n"
                       "2023-11-14T22:13:20.000000000Z stdout F second\n";
    CHECK(strncmp(got, want, strlen(want)) == 0);
    CHECK(strstr(got + strlen(want), " stdout F thi\n") != NULL);
    return 0;
}

static int test_long_line_is_split(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *path = xasprintf("%s/long.log", dir);
    struct crilog *l = crilog_open(path, &err);
    size_t n = CRILOG_MAX_LINE + 10;
    cleanup_free char *big = xmalloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\n';
    CHECK(crilog_write(l, CRILOG_STDOUT, 0, big, n + 1, &err) == 0);
    crilog_close(l);
    cleanup_free char *got = slurp(path);
    CHECK(strstr(got, " stdout P xxx") != NULL);
    char *second = strchr(got, '\n') + 1;
    CHECK(strstr(second, " stdout F xxxxxxxxxx\n") != NULL);
    return 0;
}

static int test_reopen_after_rename(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *path = xasprintf("%s/rot.log", dir);
    cleanup_free char *moved = xasprintf("%s/rot.log.1", dir);
    struct crilog *l = crilog_open(path, &err);
    CHECK(crilog_write_line(l, CRILOG_STDOUT, "2023-01-01T00:00:00.000000001Z", "a\n", 2, &err) ==
          0);
    CHECK(rename(path, moved) == 0);
    CHECK(crilog_reopen(l, &err) == 0);
    CHECK(crilog_write_line(l, CRILOG_STDOUT, "2023-01-01T00:00:00.000000002Z", "b", 1, &err) == 0);
    crilog_close(l);
    cleanup_free char *old = slurp(moved);
    cleanup_free char *now = slurp(path);
    CHECK(strcmp(old, "2023-01-01T00:00:00.000000001Z stdout F a\n") == 0);
    CHECK(strcmp(now, "2023-01-01T00:00:00.000000002Z stdout F b\n") == 0);
    return 0;
}

/* A container's log path stays inside its pod's log directory.  */
static int test_path_check(void)
{
    static const char *const ok[] = {"", "web/0.log", "web.log", "a/..b/c", "..log", "x/.../y"};
    static const char *const bad[] = {"/etc/cron.d/x", "../x.log", "web/../../x", "a/..",
                                      "..", "web/../0.log"};
    crimp_error_t err = NULL;
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(ok); i++)
        CHECK_OK(crilog_path_check("/var/log/pods/p", ok[i], &err));
    CHECK_OK(crilog_path_check("/var/log/pods/p", NULL, &err));
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bad); i++) {
        CHECK(crilog_path_check("/var/log/pods/p", bad[i], &err) < 0);
        CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
        crimp_error_release(&err);
    }
    return 0;
}

/* A symlink planted at the log path is not followed.  */
static int test_symlink_log_refused(void)
{
    cleanup_free char *target = xasprintf("%s/target", dir);
    cleanup_free char *link = xasprintf("%s/link.log", dir);
    FILE *f = fopen(target, "w");
    fclose(f);
    CHECK(symlink(target, link) == 0);
    crimp_error_t err = NULL;
    CHECK(crilog_open(link, &err) == NULL);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    crimp_error_release(&err);
    return 0;
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_time_format),
        UNIT_TEST(test_lines_and_partials),
        UNIT_TEST(test_long_line_is_split),
        UNIT_TEST(test_reopen_after_rename),
        UNIT_TEST(test_path_check),
        UNIT_TEST(test_symlink_log_refused),
    };
    int ret = unit_run(tests, sizeof(tests) / sizeof(tests[0]));
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    if (system(rm) != 0)
        ret = 1;
    return ret;
}
