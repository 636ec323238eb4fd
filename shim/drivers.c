/* The node's cgroup driver, agreed by every backend (drivers.h).  */
#include "drivers.h"

#include <string.h>

#include "common/cgroup_driver.h"
#include "deadline.h"
#include "grpc_client.h"
#include "log.h"
#include "pbutil.h"
#include "router-internal.h"
#include "utils.h"

#define DRIVER_ASK_NS (2LL * 1000 * 1000 * 1000)

/* Backend B's driver, or < 0 with *err.  */
static int ask_driver(struct crimp_backend *b, struct crimp_rpc *rpc, int *driver,
                      crimp_error_t *err)
{
    struct crimp_rpc local = {.method = "/runtime.v1.RuntimeService/RuntimeConfig",
                              .deadline = crimp_grpc_deadline_in(2)};
    Runtime__V1__RuntimeConfigRequest req = RUNTIME__V1__RUNTIME_CONFIG_REQUEST__INIT;
    Runtime__V1__RuntimeConfigResponse resp = RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT;
    /* At start and on reload no kubelet call bounds the question: a hung
     * runtime must not hold crimpd up (Docker's own client waits minutes).  */
    struct crimp_budget budget = {.deadline_ns = crimp_now_mono_ns() + DRIVER_ASK_NS};
    if (rpc == NULL)
        crimp_budget_set_current(&budget);
    int ret = b->ops->runtime_config(b, rpc ? rpc : &local, &req, &resp, err);
    if (rpc == NULL)
        crimp_budget_set_current(NULL);
    if (ret == 0 && resp.linux == NULL)
        ret = crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "RuntimeConfig: no linux config");
    if (ret == 0)
        *driver = (int)resp.linux->cgroup_driver;
    crimp_pb_free_fields(&resp.base);
    return ret;
}

/* What an operator changes so that backend B uses driver WANT.  */
static char *fix_for(const struct crimp_backend *b, int want)
{
    const char *name = crimp_cgroup_driver_name((enum crimp_cgroup_driver)want);
    const struct crimp_backend_config *bc = b->config;
    if (strcmp(bc->type, "docker") == 0)
        return xasprintf("start dockerd of `%s` with --exec-opt native.cgroupdriver=%s", bc->name,
                         name);
    if (strcmp(bc->type, "cri") == 0)
        return xasprintf("configure the runtime behind `%s` for %s (containerd: SystemdCgroup in "
                         "its runc options; for an endpoint without RuntimeConfig set "
                         "\"cgroup_driver\": \"%s\" in the options of `%s`)",
                         bc->name, name, name, bc->name);
    return xasprintf("set \"cgroup_driver\": \"%s\" in the options of `%s`", name, bc->name);
}

static int disagreement(const struct crimp_backend *a, int da, const struct crimp_backend *b,
                        int db, crimp_error_t *err)
{
    cleanup_free char *fix_b = fix_for(b, da);
    cleanup_free char *fix_a = fix_for(a, db);
    return crimp_make_error(
        err, GRPC_STATUS_FAILED_PRECONDITION, 0,
        "backends `%s` (%s) and `%s` (%s) disagree on the cgroup driver: `%s` uses %s, `%s` uses "
        "%s; a node has one driver (kubelet's): %s, or %s",
        a->config->name, a->config->type, b->config->name, b->config->type, a->config->name,
        crimp_cgroup_driver_name((enum crimp_cgroup_driver)da), b->config->name,
        crimp_cgroup_driver_name((enum crimp_cgroup_driver)db), fix_b, fix_a);
}

int crimp_drivers_agree(struct crimp_backend *const *bs, size_t n, struct crimp_rpc *rpc,
                        bool lenient, int *driver, crimp_error_t *err)
{
    const struct crimp_backend *first = NULL;
    cleanup_error crimp_error_t last = NULL;
    *driver = -1;
    for (size_t i = 0; i < n; i++) {
        struct crimp_backend *b = bs[i];
        if (b->ops->runtime_config == NULL)
            continue;
        crimp_error_t e = NULL;
        int d = -1;
        if (ask_driver(b, rpc, &d, &e) < 0) {
            log_warn("backend `%s`: cgroup driver not known (%s)%s", b->config->name, e->msg,
                     lenient ? "; not checked against the others" : "");
            crimp_error_wrap(&e, "backend `%s`", b->config->name);
            crimp_error_release(&last);
            last = e;
            continue;
        }
        if (first == NULL) {
            first = b;
            *driver = d;
        } else if (d != *driver) {
            return disagreement(first, *driver, b, d, err);
        }
    }
    if (first == NULL && last != NULL && !lenient) {
        *err = steal_ptr(&last);
        return -1;
    }
    return 0;
}

static size_t live_backends(struct crimp_router *r, struct crimp_backend **out)
{
    size_t n = 0;
    for (size_t i = 0; i < crimp_router_count(r); i++)
        if (crimp_router_get(r, i))
            out[n++] = crimp_router_get(r, i);
    return n;
}

int crimp_router_check_drivers(struct crimp_router *r, crimp_error_t *err)
{
    struct crimp_backend *live[CRIMP_MAX_BACKENDS];
    size_t n = live_backends(r, live);
    int driver = -1;
    if (crimp_drivers_agree(live, n, NULL, true, &driver, err) < 0)
        return -1;
    if (driver >= 0)
        log_info("cgroup driver of the node: %s", crimp_cgroup_driver_name(driver));
    return 0;
}

int crimp_answer_runtime_config(struct crimp_router *r, struct crimp_rpc *rpc,
                                const ProtobufCMessage *req, ProtobufCMessage *resp,
                                crimp_error_t *err)
{
    struct crimp_backend *live[CRIMP_MAX_BACKENDS];
    size_t n = live_backends(r, live);
    int driver = -1;
    if (crimp_drivers_agree(live, n, rpc, false, &driver, err) < 0)
        return -1;
    if (driver < 0)
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0,
                                "no backend reports its cgroup driver");
    crimp_cgroup_driver_reply((Runtime__V1__RuntimeConfigResponse *)resp,
                              (enum crimp_cgroup_driver)driver);
    return 0;
}
