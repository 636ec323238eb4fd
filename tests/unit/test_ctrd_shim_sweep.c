/* Unit tests for backends/containerd/shim_sweep.c: reading a shim's
 * command line and deciding which shims are orphans.  */
#include <string.h>

#include "containerd/shim_sweep.h"
#include "unit.h"
#include "utils.h"

#define SOCK "/run/test-ctrd/containerd.sock"
#define ID64 "85b66f4c1b46558400951d81b7377d8d739c368274ec97818b30968cdabeb34f"

static int test_parse_containerd_argv(void)
{
    char *argv[] = {"/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s", "-id", ID64,
                    "-address", SOCK};
    struct ctrd_shim_args a;
    CHECK(ctrd_shim_args_parse(argv, 7, &a));
    CHECK(strcmp(a.ns, "k8s") == 0 && strcmp(a.id, ID64) == 0 && strcmp(a.address, SOCK) == 0);
    return 0;
}

static int test_parse_go_flag_forms(void)
{
    char *argv[] = {"containerd-shim-runc-v2", "--namespace=ns1", "-publish-binary",
                    "/usr/bin/containerd", "--id", "abc", ("-address=" SOCK), "-debug"};
    struct ctrd_shim_args a;
    CHECK(ctrd_shim_args_parse(argv, 8, &a));
    CHECK(strcmp(a.ns, "ns1") == 0 && strcmp(a.id, "abc") == 0 && strcmp(a.address, SOCK) == 0);
    return 0;
}

static int test_parse_rejects_non_shims(void)
{
    struct ctrd_shim_args a;
    char *other[] = {"/usr/bin/containerd", "-namespace", "k8s", "-id", "x", "-address", SOCK};
    CHECK(!ctrd_shim_args_parse(other, 7, &a));
    char *no_id[] = {"containerd-shim-runc-v2", "-namespace", "k8s", "-address", SOCK};
    CHECK(!ctrd_shim_args_parse(no_id, 5, &a));
    char *dangling[] = {"containerd-shim-runc-v2", "-namespace", "k8s", "-address", SOCK, "-id"};
    CHECK(!ctrd_shim_args_parse(dangling, 6, &a));
    /* -idx is not -id; a prefix match would read the wrong flag */
    char *prefix[] = {"containerd-shim-runc-v2", "-namespace", "k8s", "-idx", "y", "-address", SOCK};
    CHECK(!ctrd_shim_args_parse(prefix, 7, &a));
    CHECK(!ctrd_shim_args_parse(other, 0, &a));
    return 0;
}

static int test_endpoint_path_forms(void)
{
    CHECK(strcmp(ctrd_endpoint_path("unix://" SOCK), SOCK) == 0);
    CHECK(strcmp(ctrd_endpoint_path("unix:" SOCK), SOCK) == 0);
    CHECK(strcmp(ctrd_endpoint_path(SOCK), SOCK) == 0);
    return 0;
}

static int test_judge(void)
{
    json_auto_t *in_use = json_pack("{s:b, s:b}", "ctr1", 1, "group1", 1);
    struct ctrd_shim_args a = {.ns = "k8s", .id = "gone1", .address = SOCK};
    CHECK(ctrd_shim_judge(&a, "k8s", "unix://" SOCK, in_use, false) == CTRD_SHIM_ORPHAN);
    CHECK(ctrd_shim_judge(&a, "k8s", SOCK, in_use, true) == CTRD_SHIM_BUSY);
    /* other namespace, other containerd: never ours, whatever their state */
    CHECK(ctrd_shim_judge(&a, "moby", SOCK, in_use, false) == CTRD_SHIM_NOT_OURS);
    CHECK(ctrd_shim_judge(&a, "k8s", "/run/other/containerd.sock", in_use, false) ==
          CTRD_SHIM_NOT_OURS);
    a.id = "ctr1";
    CHECK(ctrd_shim_judge(&a, "k8s", SOCK, in_use, false) == CTRD_SHIM_IN_USE);
    a.id = "group1"; /* a pod's containers grouped under one shim */
    CHECK(ctrd_shim_judge(&a, "k8s", SOCK, in_use, false) == CTRD_SHIM_IN_USE);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_parse_containerd_argv),
        UNIT_TEST(test_parse_go_flag_forms),
        UNIT_TEST(test_parse_rejects_non_shims),
        UNIT_TEST(test_endpoint_path_forms),
        UNIT_TEST(test_judge),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
