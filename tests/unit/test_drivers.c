/* shim/drivers.c: the node's one cgroup driver across backends — agreement,
 * the refusal naming both backends and the fix, backends that cannot say.
 * The backends are stand-ins whose RuntimeConfig answers a fixed driver or
 * fails: this is the agreement logic alone; the e2e suite drives it
 * against the real daemons.  */
#include <stdlib.h>
#include <string.h>

#include "common/cgroup_driver.h"
#include "drivers.h"
#include "pbutil.h"
#include "unit.h"
#include "utils.h"

struct stand_in {
    struct crimp_backend base;
    int driver; /* < 0: RuntimeConfig fails with UNAVAILABLE */
};

static int stand_in_runtime_config(struct crimp_backend *self, struct crimp_rpc *rpc,
                                   const Runtime__V1__RuntimeConfigRequest *req,
                                   Runtime__V1__RuntimeConfigResponse *resp, crimp_error_t *err)
{
    int d = ((struct stand_in *)self)->driver;
    if (d < 0)
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0, "connection refused");
    crimp_cgroup_driver_reply(resp, (enum crimp_cgroup_driver)d);
    return 0;
}

static const struct crimp_backend_ops WITH_CONFIG = {.type = "containerd",
                                                     .runtime_config = stand_in_runtime_config};
static const struct crimp_backend_ops WITHOUT_CONFIG = {.type = "cri"};

static struct crimp_backend_config configs[] = {
    {.name = "docker", .type = "docker", .endpoint = "unix:///d.sock"},
    {.name = "ctrd", .type = "containerd", .endpoint = "unix:///c.sock"},
    {.name = "old", .type = "cri", .endpoint = "unix:///o.sock"},
};

static void stand_in_init(struct stand_in *s, size_t cfg, int driver, bool has_op)
{
    s->base.ops = has_op ? &WITH_CONFIG : &WITHOUT_CONFIG;
    s->base.config = &configs[cfg];
    s->driver = driver;
}

static int test_agreeing_backends_give_the_driver(void)
{
    struct stand_in a, b;
    stand_in_init(&a, 0, CRIMP_CGROUP_SYSTEMD, true);
    stand_in_init(&b, 1, CRIMP_CGROUP_SYSTEMD, true);
    struct crimp_backend *bs[] = {&a.base, &b.base};
    crimp_error_t err = NULL;
    int d = -2;
    CHECK_OK(crimp_drivers_agree(bs, 2, NULL, false, &d, &err));
    CHECK(d == CRIMP_CGROUP_SYSTEMD);
    return 0;
}

static int test_disagreement_names_both_and_the_fix(void)
{
    struct stand_in a, b;
    stand_in_init(&a, 0, CRIMP_CGROUP_CGROUPFS, true);
    stand_in_init(&b, 1, CRIMP_CGROUP_SYSTEMD, true);
    struct crimp_backend *bs[] = {&a.base, &b.base};
    crimp_error_t err = NULL;
    int d = -2;
    CHECK(crimp_drivers_agree(bs, 2, NULL, true, &d, &err) < 0);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    CHECK(strstr(err->msg, "backends `docker` (docker) and `ctrd` (containerd) disagree") != NULL);
    CHECK(strstr(err->msg, "`docker` uses cgroupfs, `ctrd` uses systemd") != NULL);
    CHECK(strstr(err->msg, "set \"cgroup_driver\": \"cgroupfs\" in the options of `ctrd`") != NULL);
    CHECK(strstr(err->msg, "--exec-opt native.cgroupdriver=systemd") != NULL);
    crimp_error_release(&err);
    return 0;
}

/* A backend without RuntimeConfig is left out; one that does not answer
 * is left out when lenient (start, reload), and its error is the answer
 * when nobody else could say (the RuntimeConfig call itself).  */
static int test_silent_backends(void)
{
    struct stand_in a, down, none;
    stand_in_init(&a, 0, CRIMP_CGROUP_CGROUPFS, true);
    stand_in_init(&down, 1, -1, true);
    stand_in_init(&none, 2, 0, false);
    crimp_error_t err = NULL;
    int d = -2;
    struct crimp_backend *mixed[] = {&none.base, &down.base, &a.base};
    CHECK_OK(crimp_drivers_agree(mixed, 3, NULL, false, &d, &err));
    CHECK(d == CRIMP_CGROUP_CGROUPFS);
    struct crimp_backend *only_down[] = {&down.base, &none.base};
    CHECK_OK(crimp_drivers_agree(only_down, 2, NULL, true, &d, &err));
    CHECK(d == -1);
    CHECK(crimp_drivers_agree(only_down, 2, NULL, false, &d, &err) < 0);
    CHECK(err->code == GRPC_STATUS_UNAVAILABLE && strstr(err->msg, "backend `ctrd`") != NULL);
    crimp_error_release(&err);
    struct crimp_backend *nobody[] = {&none.base};
    CHECK_OK(crimp_drivers_agree(nobody, 1, NULL, false, &d, &err));
    CHECK(d == -1);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_agreeing_backends_give_the_driver),
        UNIT_TEST(test_disagreement_names_both_and_the_fix),
        UNIT_TEST(test_silent_backends),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
