/* cri backend: every operation forwards its request to the same method on
 * the endpoint and hands the reply back.  kubelet's deadline and
 * cancellation propagate, because the outgoing call is a child of the
 * incoming one.  */
#include "cri.h"

#include "cri_rpcs.h"
#include "grpc_client.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

struct cri_backend {
    struct crimp_backend base;
    grpc_channel *channel;
};

/* Large enough for any ListContainers kubelet could get back.  */
enum { CRI_MAX_MESSAGE = 64 * 1024 * 1024 };

static struct crimp_backend *cri_open(const struct crimp_backend_config *cfg, crimp_error_t *err)
{
    if (cfg->options != NULL && json_object_size(cfg->options) > 0) {
        const char *key = json_object_iter_key(json_object_iter(cfg->options));
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "options: unknown key `%s` (the cri backend takes none)", key);
        return NULL;
    }
    struct cri_backend *b = xcalloc(1, sizeof(*b));
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

static int forward_stream(struct crimp_backend *self, struct crimp_rpc *rpc, const char *path,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                          crimp_error_t *err)
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
    }
    crimp_grpc_stream_free(s);
    return ret < 0 ? -1 : 0;
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
#define FORWARD(svc, Rpc, op, Req, req, Resp, resp, kind, lane, required)                          \
    FORWARD_##kind(svc, Rpc, op, Req, req, Resp, resp)
CRIMP_CRI_RPCS(FORWARD)

#define OP_ENTRY(svc, Rpc, op, Req, req, Resp, resp, kind, lane, required) .op = cri_##op,

const struct crimp_backend_ops crimp_backend_cri = {
    .type = "cri",
    .open = cri_open,
    .close = cri_close,
    .raw_channel = cri_raw_channel,
    CRIMP_CRI_RPCS(OP_ENTRY)};
