/* Stream* list RPCs from their unary twins (list_stream.h).  */
#include "list_stream.h"

#include <stdlib.h>

#include "pbutil.h"
#include "utils.h"

typedef int (*list_call_fn)(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const ProtobufCMessage *req, ProtobufCMessage *resp,
                            crimp_error_t *err);

/* The one repeated message field of a list reply or stream message.  */
static const ProtobufCFieldDescriptor *items_field(const ProtobufCMessageDescriptor *d)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].label == PROTOBUF_C_LABEL_REPEATED &&
            d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            return &d->fields[i];
    return NULL;
}

int crimp_stream_send_items(struct crimp_rpc *rpc, const ProtobufCMessage *list,
                            const ProtobufCMessageDescriptor *stream_desc, crimp_error_t *err)
{
    const ProtobufCFieldDescriptor *from = items_field(list->descriptor);
    const ProtobufCFieldDescriptor *to = items_field(stream_desc);
    if (from == NULL || to == NULL || from->descriptor != to->descriptor)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s cannot be streamed as %s",
                                list->descriptor->short_name, stream_desc->short_name);
    size_t n = *(const size_t *)((const char *)list + from->quantifier_offset);
    ProtobufCMessage *const *items =
        *(ProtobufCMessage *const *const *)((const char *)list + from->offset);
    /* Each element is lent to the one message, never owned by it.  */
    ProtobufCMessage *msg = crimp_pb_new(stream_desc);
    size_t *n_out = (size_t *)((char *)msg + to->quantifier_offset);
    ProtobufCMessage ***out = (ProtobufCMessage ***)((char *)msg + to->offset);
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        ProtobufCMessage *one = items[i];
        *n_out = 1;
        *out = &one;
        ret = crimp_rpc_send(rpc, msg, err);
    }
    *n_out = 0;
    *out = NULL;
    protobuf_c_message_free_unpacked(msg, NULL);
    return ret;
}

/* REQ of a Stream* RPC as its twin's request (the same bytes on the wire).  */
static ProtobufCMessage *as_list_request(const ProtobufCMessage *req,
                                         const ProtobufCMessageDescriptor *list_req_desc)
{
    size_t len = protobuf_c_message_get_packed_size(req);
    cleanup_free uint8_t *buf = xmalloc(len ? len : 1);
    protobuf_c_message_pack(req, buf);
    return protobuf_c_message_unpack(list_req_desc, NULL, len, buf);
}

static int stream_from_list(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const ProtobufCMessage *req, const ProtobufCMessageDescriptor *list_req,
                            const ProtobufCMessageDescriptor *list_resp,
                            const ProtobufCMessageDescriptor *stream_resp, list_call_fn call,
                            crimp_error_t *err)
{
    ProtobufCMessage *lreq = as_list_request(req, list_req);
    if (lreq == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "the request is not a valid %s", list_req->short_name);
    ProtobufCMessage *lresp = crimp_pb_new(list_resp);
    int ret = call(self, rpc, lreq, lresp, err);
    if (ret == 0)
        ret = crimp_stream_send_items(rpc, lresp, stream_resp, err);
    protobuf_c_message_free_unpacked(lreq, NULL);
    protobuf_c_message_free_unpacked(lresp, NULL);
    return ret;
}

#define FROM_LIST(svc, SRpc, sop, sresp, lop, LReq, lreq, LResp, lresp)                            \
    static int call_##lop(struct crimp_backend *self, struct crimp_rpc *rpc,                       \
                          const ProtobufCMessage *req, ProtobufCMessage *resp, crimp_error_t *err) \
    {                                                                                              \
        if (self->ops->lop == NULL)                                                                \
            return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0,                             \
                                    "the backend has no " #lop " to stream " #SRpc " from");       \
        return self->ops->lop(self, rpc, (const Runtime__V1__##LReq *)req,                         \
                              (Runtime__V1__##LResp *)resp, err);                                  \
    }                                                                                              \
    int crimp_##sop##_from_list(struct crimp_backend *self, struct crimp_rpc *rpc,                 \
                                const Runtime__V1__##SRpc##Request *req, crimp_error_t *err)       \
    {                                                                                              \
        return stream_from_list(self, rpc, &req->base, &runtime__v1__##lreq##__descriptor,         \
                                &runtime__v1__##lresp##__descriptor,                               \
                                &runtime__v1__##sresp##__descriptor, call_##lop, err);             \
    }
CRIMP_CRI_STREAM_TWINS(FROM_LIST)
