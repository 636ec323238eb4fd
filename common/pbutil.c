/* protobuf-c ownership helpers.  */
#include "pbutil.h"

#include <string.h>

#include "utils.h"

void crimp_pb_free_fields(ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    /* protobuf-c frees a message and its fields in one call; hand it a heap
     * copy so that the caller's storage survives.  */
    ProtobufCMessage *copy = xmalloc(desc->sizeof_message);
    memcpy(copy, msg, desc->sizeof_message);
    protobuf_c_message_free_unpacked(copy, NULL);
    protobuf_c_message_init(desc, msg);
}

void crimp_pb_move(ProtobufCMessage *dst, ProtobufCMessage *src)
{
    memcpy(dst, src, src->descriptor->sizeof_message);
    free(src);
}

ProtobufCMessage *crimp_pb_new(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = xmalloc(desc->sizeof_message);
    protobuf_c_message_init(desc, m);
    return m;
}
