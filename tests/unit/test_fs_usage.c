/* Unit tests for backends/common/fs_usage.c: the watched directories that
 * calls read without ever walking (ImageFsInfo).  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs_usage.h"
#include "unit.h"
#include "utils.h"

static char dir[] = "/tmp/crimp-fsusage-XXXXXX";

static int write_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        fputc('x', f);
    return fclose(f);
}

/* A peek never walks: nothing for a directory nobody watches or asked.  */
static int test_peek_unknown_is_empty(void)
{
    struct crimp_fs_usage_cache *c = crimp_fs_usage_cache_new(1);
    struct crimp_fs_usage u = {0};
    CHECK(!crimp_fs_usage_peek(c, dir, &u));
    crimp_fs_usage_cache_free(c);
    return 0;
}

/* A watched directory is measured by the refresh thread, and measured
 * again after it grows, with no ask in between.  */
static int test_watch_measures_in_the_background(void)
{
    cleanup_free char *a = xasprintf("%s/a", dir), *b = xasprintf("%s/b", dir);
    CHECK(write_file(a, 100000) == 0);
    struct crimp_fs_usage_cache *c = crimp_fs_usage_cache_new(1);
    crimp_fs_usage_watch(c, dir);
    struct crimp_fs_usage u = {0};
    for (int i = 0; i < 200 && !crimp_fs_usage_peek(c, dir, &u); i++)
        usleep(10000);
    CHECK(u.at_ns > 0 && u.bytes >= 100000 && u.inodes == 2);
    CHECK(write_file(b, 300000) == 0);
    struct crimp_fs_usage v = u;
    for (int i = 0; i < 400 && v.bytes < 400000; i++) {
        usleep(10000);
        CHECK(crimp_fs_usage_peek(c, dir, &v));
    }
    CHECK(v.bytes >= 400000 && v.inodes == 3 && v.at_ns > u.at_ns);
    crimp_fs_usage_watch(c, dir); /* twice is once */
    crimp_fs_usage_cache_free(c);
    return 0;
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_peek_unknown_is_empty),
        UNIT_TEST(test_watch_measures_in_the_background),
    };
    int ret = unit_run(tests, sizeof(tests) / sizeof(tests[0]));
    cleanup_free char *rm = xasprintf("rm -rf %s", dir);
    if (system(rm) != 0)
        ret = 1;
    return ret;
}
