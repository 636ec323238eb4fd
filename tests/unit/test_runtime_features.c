/* backends/common/runtime_features.c: `runc features` parsing, the kernel
 * probe against the running kernel's version, and a handler entry.  */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/runtime_features.h"
#include "unit.h"
#include "utils.h"

static int test_runc_features_parse(void)
{
    const char *json = "{\"ociVersionMin\": \"1.0.0\", \"mountOptions\": [\"bind\", \"ro\", "
                       "\"rro\", \"rbind\"], \"linux\": {}}";
    CHECK(crimp_runc_features_have(json, "rro"));
    CHECK(crimp_runc_features_have(json, "rbind"));
    CHECK(!crimp_runc_features_have(json, "rrw"));
    CHECK(!crimp_runc_features_have("{\"mountOptions\": [\"ro\"]}", "rro"));
    CHECK(!crimp_runc_features_have("not json", "rro"));
    CHECK(!crimp_runc_features_have("", "rro"));
    CHECK(!crimp_runc_features_have(NULL, "rro"));
    CHECK(!crimp_runc_features_have("{\"mountOptions\": {\"rro\": 1}}", "rro"));
    return 0;
}

/* mount_setattr came with Linux 5.12: the probe agrees with uname.  */
static int test_kernel_probe_matches_version(void)
{
    struct utsname u;
    if (uname(&u) < 0)
        return 77;
    int major = 0, minor = 0;
    sscanf(u.release, "%d.%d", &major, &minor);
    bool new_enough = major > 5 || (major == 5 && minor >= 12);
    CHECK(crimp_kernel_has_mount_setattr() == new_enough);
    return 0;
}

static int test_missing_runc_says_no(void)
{
    CHECK(!crimp_runc_supports_mount_option("/nonexistent/runc", "rro"));
    CHECK(!crimp_runc_supports_mount_option("it's", "rro"));
    return 0;
}

static int test_handler_entry(void)
{
    Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
    crimp_status_add_handler(&resp, "", true, false);
    crimp_status_add_handler(&resp, "ctrd", false, true);
    CHECK(resp.n_runtime_handlers == 2);
    CHECK(strcmp(resp.runtime_handlers[0]->name, "") == 0);
    CHECK(resp.runtime_handlers[0]->features->recursive_read_only_mounts);
    CHECK(!resp.runtime_handlers[0]->features->user_namespaces);
    CHECK(strcmp(resp.runtime_handlers[1]->name, "ctrd") == 0);
    CHECK(resp.runtime_handlers[1]->features->user_namespaces);
    for (size_t i = 0; i < resp.n_runtime_handlers; i++)
        protobuf_c_message_free_unpacked(&resp.runtime_handlers[i]->base, NULL);
    free(resp.runtime_handlers);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_runc_features_parse),
        UNIT_TEST(test_kernel_probe_matches_version),
        UNIT_TEST(test_missing_runc_says_no),
        UNIT_TEST(test_handler_entry),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
