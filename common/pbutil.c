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

void *crimp_pb_map_from_json(const ProtobufCMessageDescriptor *entry_desc, json_t *obj,
                             size_t *n)
{
    *n = 0;
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return NULL;
    struct crimp_pb_map_entry **entries = xcalloc(json_object_size(obj), sizeof(*entries));
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!json_is_string(v))
            continue;
        struct crimp_pb_map_entry *e = (struct crimp_pb_map_entry *)crimp_pb_new(entry_desc);
        e->key = xstrdup(key);
        e->value = xstrdup(json_string_value(v));
        entries[(*n)++] = e;
    }
    return entries;
}

json_t *crimp_pb_map_to_json(void *const *entries, size_t n)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++) {
        const struct crimp_pb_map_entry *e = entries[i];
        json_object_set_new(obj, e->key, json_string(e->value ? e->value : ""));
    }
    return obj;
}

char *crimp_pb_strdup(const char *s)
{
    return xstrdup(s ? s : "");
}

void *crimp_pb_map_copy(const ProtobufCMessageDescriptor *entry_desc, void *const *entries,
                        size_t n, size_t *n_out)
{
    json_auto_t *j = crimp_pb_map_to_json(entries, n);
    return crimp_pb_map_from_json(entry_desc, j, n_out);
}
