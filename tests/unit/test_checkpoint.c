/* Unit tests for backends/common/checkpoint.c.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "unit.h"
#include "utils.h"

static char dir[] = "/tmp/crimp-ckpt-XXXXXX";

static int test_round_trip(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *sub = xasprintf("%s/a/b", dir);
    json_auto_t *in = json_pack("{s:s, s:[i]}", "netns", "/proc/1/ns/net", "ports", 80);
    json_t *out = NULL;
    CHECK(crimp_checkpoint_write(sub, "pod1", in, &err) == 0);
    CHECK(crimp_checkpoint_read(sub, "pod1", &out, &err) == 0);
    CHECK(json_equal(in, out));
    json_decref(out);
    CHECK(crimp_checkpoint_remove(sub, "pod1", &err) == 0);
    CHECK(crimp_checkpoint_remove(sub, "pod1", &err) == 0);
    CHECK(crimp_checkpoint_read(sub, "pod1", &out, &err) < 0);
    CHECK(err->code == GRPC_STATUS_NOT_FOUND);
    crimp_error_release(&err);
    return 0;
}

/* A corrupt file is moved aside, kept, and no longer listed (the list
 * test below counts what is left in DIR).  */
static int test_corrupt_is_quarantined(void)
{
    crimp_error_t err = NULL;
    json_auto_t *in = json_pack("{s:i}", "x", 1);
    json_t *out = NULL;
    CHECK(crimp_checkpoint_write(dir, "c", in, &err) == 0);
    cleanup_free char *path = xasprintf("%s/c", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"version\":1,\"data\":{\"x\":2},\"checksum\":1}", f);
    fclose(f);
    CHECK(crimp_checkpoint_read(dir, "c", &out, &err) < 0);
    CHECK(err->code == GRPC_STATUS_DATA_LOSS);
    crimp_error_release(&err);
    CHECK(access(path, F_OK) != 0);
    cleanup_free char *cmd = xasprintf("ls %s/c.corrupt-* >/dev/null 2>&1", dir);
    CHECK(system(cmd) == 0);
    return 0;
}

/* A file that cannot be read is an error that says why, and stays.  */
static int test_unreadable_is_kept(void)
{
    crimp_error_t err = NULL;
    json_t *out = NULL;
    cleanup_free char *sub = xasprintf("%s/u", dir);
    CHECK(crimp_mkdir_p(sub, 0700, &err) == 0);
    /* Out of file descriptors (EMFILE), in a child with a tiny limit.  */
    json_auto_t *in = json_pack("{s:i}", "x", 1);
    CHECK(crimp_checkpoint_write(sub, "f", in, &err) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit one = {3, 3};
        if (setrlimit(RLIMIT_NOFILE, &one) < 0)
            _exit(4);
        int r = crimp_checkpoint_read(sub, "f", &out, &err);
        _exit(r < 0 && err->errno_ == EMFILE ? 0 : 3);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(crimp_checkpoint_read(sub, "f", &out, &err) == 0);
    CHECK(json_equal(in, out));
    json_decref(out);
    return 0;
}

/* What is not a regular file where a checkpoint should be (a symlink, a
 * directory) is read as corrupt and set aside: never followed.  */
static int test_not_a_file_is_set_aside(void)
{
    crimp_error_t err = NULL;
    json_t *out = NULL;
    cleanup_free char *sub = xasprintf("%s/n", dir);
    cleanup_free char *target = xasprintf("%s/n/target", dir);
    cleanup_free char *link = xasprintf("%s/n/s", dir);
    cleanup_free char *d = xasprintf("%s/n/d", dir);
    CHECK(crimp_mkdir_p(d, 0700, &err) == 0);
    json_auto_t *in = json_pack("{s:i}", "x", 1);
    CHECK(crimp_checkpoint_write(sub, "target", in, &err) == 0);
    CHECK(symlink(target, link) == 0);
    CHECK(crimp_checkpoint_read(sub, "s", &out, &err) < 0);
    CHECK(err->code == GRPC_STATUS_DATA_LOSS);
    crimp_error_release(&err);
    CHECK(crimp_checkpoint_read(sub, "d", &out, &err) < 0);
    CHECK(err->code == GRPC_STATUS_DATA_LOSS);
    crimp_error_release(&err);
    CHECK(access(link, F_OK) != 0 && access(target, F_OK) == 0); /* the link moved aside */
    return 0;
}

static void count(void *ctx, const char *id)
{
    (*(int *)ctx)++;
    (void)id;
}

static int test_list_and_bad_ids(void)
{
    crimp_error_t err = NULL;
    json_auto_t *in = json_object();
    int n = 0;
    CHECK(crimp_checkpoint_write(dir, "one", in, &err) == 0);
    CHECK(crimp_checkpoint_write(dir, "two", in, &err) == 0);
    CHECK(crimp_checkpoint_list(dir, count, &n, &err) == 0);
    CHECK(n == 2);
    CHECK(crimp_checkpoint_write(dir, "../escape", in, &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    crimp_error_release(&err);
    n = 0;
    CHECK(crimp_checkpoint_list("/nonexistent/dir", count, &n, &err) == 0 && n == 0);
    return 0;
}

/* A write a crash cut short leaves ".NAME.tmp" beside the intact file:
 * the start sweep removes it and nothing else.  */
static int test_sweep_temps(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *sub = xasprintf("%s/temps", dir);
    json_auto_t *in = json_object();
    CHECK(crimp_checkpoint_write(sub, "kept", in, &err) == 0);
    cleanup_free char *tmp = xasprintf("%s/.kept.tmp", sub);
    cleanup_free char *other = xasprintf("%s/.hidden", sub);
    FILE *f = fopen(tmp, "w");
    CHECK(f != NULL && fputs("{\"half", f) >= 0 && fclose(f) == 0);
    f = fopen(other, "w");
    CHECK(f != NULL && fclose(f) == 0);
    crimp_checkpoint_sweep_temps(sub);
    CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);
    CHECK(access(other, F_OK) == 0);
    json_t *out = NULL;
    CHECK(crimp_checkpoint_read(sub, "kept", &out, &err) == 0);
    json_decref(out);
    crimp_checkpoint_sweep_temps("/nonexistent/dir");
    return 0;
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_round_trip),
        UNIT_TEST(test_corrupt_is_quarantined),
        UNIT_TEST(test_unreadable_is_kept),
        UNIT_TEST(test_not_a_file_is_set_aside),
        UNIT_TEST(test_list_and_bad_ids),
        UNIT_TEST(test_sweep_temps),
    };
    int ret = unit_run(tests, sizeof(tests) / sizeof(tests[0]));
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    if (system(rm) != 0)
        ret = 1;
    return ret;
}
