/* backends/common/cgroup_driver.c: driver names, the host default rule,
 * the backend option, the cgroupsPath each driver gives, and the
 * detection on this very host.  */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "common/cgroup_driver.h"
#include "common/cgroup.h"
#include "unit.h"
#include "utils.h"

static int test_parse(void)
{
    crimp_error_t err = NULL;
    enum crimp_cgroup_driver d = CRIMP_CGROUP_SYSTEMD;
    CHECK_OK(crimp_cgroup_driver_parse("cgroupfs", "x", &d, &err));
    CHECK(d == CRIMP_CGROUP_CGROUPFS && (int)d == RUNTIME__V1__CGROUP_DRIVER__CGROUPFS);
    CHECK_OK(crimp_cgroup_driver_parse("systemd", "x", &d, &err));
    CHECK(d == CRIMP_CGROUP_SYSTEMD && (int)d == RUNTIME__V1__CGROUP_DRIVER__SYSTEMD);
    const char *bad[] = {"Systemd", "", "systemd ", "cgroup", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(crimp_cgroup_driver_parse(bad[i], "options.cgroup_driver", &d, &err) < 0);
        CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
        CHECK(strstr(err->msg, "options.cgroup_driver: `") != NULL);
        CHECK(strstr(err->msg, "(systemd or cgroupfs)") != NULL);
        crimp_error_release(&err);
    }
    CHECK(strcmp(crimp_cgroup_driver_name(CRIMP_CGROUP_SYSTEMD), "systemd") == 0);
    CHECK(strcmp(crimp_cgroup_driver_name(CRIMP_CGROUP_CGROUPFS), "cgroupfs") == 0);
    return 0;
}

static int test_host_rule(void)
{
    CHECK(crimp_cgroup_driver_for_host("systemd", true) == CRIMP_CGROUP_SYSTEMD);
    CHECK(crimp_cgroup_driver_for_host("systemd", false) == CRIMP_CGROUP_CGROUPFS);
    CHECK(crimp_cgroup_driver_for_host("init", true) == CRIMP_CGROUP_CGROUPFS);
    CHECK(crimp_cgroup_driver_for_host("tini", false) == CRIMP_CGROUP_CGROUPFS);
    CHECK(crimp_cgroup_driver_for_host(NULL, true) == CRIMP_CGROUP_CGROUPFS);
    CHECK(crimp_cgroup_driver_for_host("systemd-journal", true) == CRIMP_CGROUP_CGROUPFS);
    return 0;
}

/* Detection on this host agrees with the rule fed what the host shows.  */
static int test_detect_here(void)
{
    char comm[64] = "";
    FILE *f = fopen("/proc/1/comm", "r");
    if (f == NULL)
        return 77;
    if (fgets(comm, sizeof(comm), f) == NULL)
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    struct statfs fs;
    bool v2 = statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == 0x63677270;
    CHECK(crimp_cgroup_driver_detect() == crimp_cgroup_driver_for_host(comm, v2));
    struct stat st;
    CHECK(crimp_systemd_booted() == (stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode)));
    return 0;
}

static int test_option(void)
{
    crimp_error_t err = NULL;
    enum crimp_cgroup_driver d;
    bool explicit_ = true;
    CHECK_OK(crimp_cgroup_driver_option(NULL, &d, &explicit_, &err));
    CHECK(!explicit_ && d == crimp_cgroup_driver_detect());
    json_auto_t *sys = json_pack("{s:s}", "cgroup_driver", "systemd");
    CHECK_OK(crimp_cgroup_driver_option(sys, &d, &explicit_, &err));
    CHECK(explicit_ && d == CRIMP_CGROUP_SYSTEMD);
    json_auto_t *num = json_pack("{s:i}", "cgroup_driver", 1);
    CHECK(crimp_cgroup_driver_option(num, &d, &explicit_, &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT && strstr(err->msg, "options.cgroup_driver"));
    crimp_error_release(&err);
    return 0;
}

static int test_cgroups_path(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    CHECK_OK(crimp_cgroups_path(CRIMP_CGROUP_CGROUPFS, "/kubepods/besteffort/pod1", "k8s.io",
                                "crimp", "abc", &a, &err));
    CHECK(strcmp(a, "/kubepods/besteffort/pod1/abc") == 0);
    CHECK_OK(crimp_cgroups_path(CRIMP_CGROUP_CGROUPFS, "", "k8s.io", "crimp", "abc", &b, &err));
    CHECK(strcmp(b, "/k8s.io/abc") == 0);
    CHECK_OK(crimp_cgroups_path(CRIMP_CGROUP_SYSTEMD, "kubepods-besteffort-pod1.slice", "k8s.io",
                                "crimp", "abc", &c, &err));
    CHECK(strcmp(c, "kubepods-besteffort-pod1.slice:crimp:abc") == 0);
    /* The stats reader finds it where runc puts it.  */
    cleanup_free char *fs = crimp_cgroup_systemd_path(c);
    CHECK(fs && strcmp(fs, "/kubepods.slice/kubepods-besteffort.slice/"
                           "kubepods-besteffort-pod1.slice/crimp-abc.scope") == 0);
    CHECK_OK(crimp_cgroups_path(CRIMP_CGROUP_SYSTEMD, NULL, "k8s.io", "crimp", "abc", &d, &err));
    CHECK(strcmp(d, "system.slice:crimp:abc") == 0);
    char *e = NULL;
    CHECK(crimp_cgroups_path(CRIMP_CGROUP_SYSTEMD, "/kubepods/pod1", "k8s.io", "crimp", "abc", &e,
                             &err) < 0);
    CHECK(e == NULL && err->code == GRPC_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(err->msg, "`/kubepods/pod1` is not a systemd slice") != NULL);
    crimp_error_release(&err);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_parse),  UNIT_TEST(test_host_rule),    UNIT_TEST(test_detect_here),
        UNIT_TEST(test_option), UNIT_TEST(test_cgroups_path),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
