/* cri backend: every operation forwards its request to the same method on
 * the endpoint and hands the reply back.  kubelet's deadline and
 * cancellation propagate, because the outgoing call is a child of the
 * incoming one.  */
#include "cri.h"

#include <string.h>

#include "common/cgroup_driver.h"
#include "common/list_stream.h"
#include "common/options.h"
#include "cri_rpcs.h"
#include "grpc_client.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

struct cri_backend {
    struct crimp_backend base;
    grpc_channel *channel;
    /* RuntimeConfig's answer when the endpoint has none (containerd < 2.0):
     * options.cgroup_driver, else the host's default.  */
    enum crimp_cgroup_driver cgroup_driver;
    bool explicit_driver;
    atomic_bool said_fallback; /* the fallback is logged once */
};

/* Large enough for any ListContainers kubelet could get back.  */
enum { CRI_MAX_MESSAGE = 64 * 1024 * 1024 };

static struct crimp_backend *cri_open(const struct crimp_backend_config *cfg, crimp_error_t *err)
{
    enum crimp_cgroup_driver driver;
    bool explicit_driver = false;
    if (crimp_options_check("cri", cfg->options, err) < 0 ||
        crimp_cgroup_driver_option(cfg->options, &driver, &explicit_driver, err) < 0)
        return NULL;
    struct cri_backend *b = xcalloc(1, sizeof(*b));
    b->cgroup_driver = driver;
    b->explicit_driver = explicit_driver;
    b->channel = crimp_grpc_channel_open(cfg->endpoint, CRI_MAX_MESSAGE);
    return &b->base;
}

static grpc_channel *cri_raw_channel(struct crimp_backend *self)
{
    return ((struct cri_backend *)self)->channel;
}

static void cri_close(struct crimp_backend *self)
{
    struct cri_backend *b = (struct cri_backend *)self;
    grpc_channel_destroy(b->channel);
    free(b);
}

static int forward_unary(struct crimp_backend *self, struct crimp_rpc *rpc, const char *path,
                         const ProtobufCMessage *req, ProtobufCMessage *resp, crimp_error_t *err)
{
    struct cri_backend *b = (struct cri_backend *)self;
    ProtobufCMessage *reply = NULL;
    if (crimp_grpc_unary(b->channel, rpc->call, path, rpc->deadline, req, resp->descriptor, &reply,
                         err) < 0)
        return -1;
    crimp_pb_move(resp, reply);
    return 0;
}

/* Relays a server stream; *SENT counts the messages passed on (may be
 * NULL).  */
static int relay_stream(struct crimp_backend *self, struct crimp_rpc *rpc, const char *path,
                        const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                        size_t *sent, crimp_error_t *err)
{
    struct cri_backend *b = (struct cri_backend *)self;
    struct crimp_grpc_stream *s =
        crimp_grpc_stream_start(b->channel, rpc->call, path, rpc->deadline, req, err);
    if (s == NULL)
        return -1;
    int ret;
    ProtobufCMessage *msg = NULL;
    while ((ret = crimp_grpc_stream_next(s, desc, &msg, err)) > 0) {
        ret = crimp_rpc_send(rpc, msg, err);
        protobuf_c_message_free_unpacked(msg, NULL);
        if (ret < 0)
            break;
        if (sent)
            (*sent)++;
    }
    crimp_grpc_stream_free(s);
    return ret < 0 ? -1 : 0;
}

static int forward_stream(struct crimp_backend *self, struct crimp_rpc *rpc, const char *path,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                          crimp_error_t *err)
{
    return relay_stream(self, rpc, path, req, desc, NULL, err);
}

#define SERVICE_RUNTIME "/runtime.v1.RuntimeService/"
#define SERVICE_IMAGE   "/runtime.v1.ImageService/"

#define FORWARD_UNARY(svc, Rpc, op, Req, req, Resp, resp)                                          \
    static int cri_##op(struct crimp_backend *self, struct crimp_rpc *rpc,                         \
                        const Runtime__V1__##Req *r, Runtime__V1__##Resp *out, crimp_error_t *err) \
    {                                                                                              \
        return forward_unary(self, rpc, SERVICE_##svc #Rpc, &r->base, &out->base, err);            \
    }
#define FORWARD_STREAM(svc, Rpc, op, Req, req, Resp, resp)                                         \
    static int cri_##op(struct crimp_backend *self, struct crimp_rpc *rpc,                         \
                        const Runtime__V1__##Req *r, crimp_error_t *err)                           \
    {                                                                                              \
        return forward_stream(self, rpc, SERVICE_##svc #Rpc, &r->base,                            \
                              &runtime__v1__##resp##__descriptor, err);                            \
    }
#define FORWARD(svc, Rpc, op, Req, req, Resp, resp, kind, ...)                                      \
    FORWARD_##kind(svc, Rpc, op, Req, req, Resp, resp)
CRIMP_CRI_RPCS(FORWARD)

/* containerd 1.6 and 1.7 have no RuntimeConfig, yet kubelet >= 1.31 wants
 * the driver at start: crimp answers for them.  */
static int cri_runtime_config_or_own(struct crimp_backend *self, struct crimp_rpc *rpc,
                                     const Runtime__V1__RuntimeConfigRequest *req,
                                     Runtime__V1__RuntimeConfigResponse *resp, crimp_error_t *err)
{
    struct cri_backend *b = (struct cri_backend *)self;
    int ret = cri_runtime_config(self, rpc, req, resp, err);
    if (ret == 0 || (*err)->code != GRPC_STATUS_UNIMPLEMENTED)
        return ret;
    crimp_error_release(err);
    if (!atomic_exchange(&b->said_fallback, true))
        log_info("cri backend `%s`: %s does not implement RuntimeConfig; crimp answers cgroup "
                 "driver %s (%s)",
                 self->config->name, self->config->endpoint,
                 crimp_cgroup_driver_name(b->cgroup_driver),
                 b->explicit_driver ? "options.cgroup_driver" : "detected from the host");
    crimp_cgroup_driver_reply(resp, b->cgroup_driver);
    return 0;
}

/* The Stream* lists are relayed; an endpoint without them (containerd
 * < 2.0) answers UNIMPLEMENTED before any message, and then its unary twin
 * is asked and its answer streamed.  */
#define RELAY_OR_SPLIT(svc, SRpc, sop, sresp, lop, LReq, lreq, LResp, lresp)                       \
    static int cri_##sop##_or_split(struct crimp_backend *self, struct crimp_rpc *rpc,             \
                                    const Runtime__V1__##SRpc##Request *r, crimp_error_t *err)     \
    {                                                                                              \
        size_t sent = 0;                                                                           \
        int ret = relay_stream(self, rpc, SERVICE_##svc #SRpc, &r->base,                           \
                               &runtime__v1__##sresp##__descriptor, &sent, err);                   \
        if (ret == 0 || sent > 0 || (*err)->code != GRPC_STATUS_UNIMPLEMENTED)                     \
            return ret;                                                                            \
        crimp_error_release(err);                                                                  \
        return crimp_##sop##_from_list(self, rpc, r, err);                                         \
    }
CRIMP_CRI_STREAM_TWINS(RELAY_OR_SPLIT)
#define SPLIT_ENTRY(svc, SRpc, sop, sresp, lop, LReq, lreq, LResp, lresp)                          \
    .sop = cri_##sop##_or_split,

#define OP_ENTRY(svc, Rpc, op, ...) .op = cri_##op,

/* The generated row of each RPC first, then the few that do more than
 * forward: a later initializer of the same member is the one that counts.  */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"

/* clang-format off */
const struct crimp_backend_ops crimp_backend_cri = {
    .type = "cri",
    .open = cri_open,
    .close = cri_close,
    .raw_channel = cri_raw_channel,
    CRIMP_CRI_RPCS(OP_ENTRY)
    .runtime_config = cri_runtime_config_or_own,
    CRIMP_CRI_STREAM_TWINS(SPLIT_ENTRY)
};
/* clang-format on */
#pragma GCC diagnostic pop
