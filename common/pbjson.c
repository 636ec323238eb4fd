/* protobuf-c → JSON by walking the message descriptor.  */
#include "pbjson.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "utils.h"

void crimp_pbjson_camel(const char *name, char *out, size_t size)
{
    size_t o = 0;
    bool upper = false;
    for (const char *p = name; *p && o + 1 < size; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        out[o++] = upper ? (char)toupper((unsigned char)*p) : *p;
        upper = false;
    }
    out[o] = '\0';
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

static json_t *bytes_json(const ProtobufCBinaryData *b)
{
    if (valid_utf8(b->data, b->len))
        return json_stringn((const char *)b->data, b->len);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    cleanup_free char *out = xmalloc((b->len + 2) / 3 * 4 + 1);
    char *o = out;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t v = (uint32_t)b->data[i] << 16;
        if (i + 1 < b->len)
            v |= (uint32_t)b->data[i + 1] << 8;
        if (i + 2 < b->len)
            v |= b->data[i + 2];
        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < b->len ? tbl[(v >> 6) & 63] : '=';
        *o++ = i + 2 < b->len ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return json_string(out);
}

/* One value of field F stored at P.  */
static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    /* 64-bit integers as decimal strings, as protobuf's JSON mapping (and
     * crictl) print them: JSON numbers lose precision past 2^53.  */
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        char text[24];
        snprintf(text, sizeof(text), "%" PRId64, *(const int64_t *)p);
        return json_string(text);
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        char text[24];
        snprintf(text, sizeof(text), "%" PRIu64, *(const uint64_t *)p);
        return json_string(text);
    }
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
        return v ? json_string(v->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return json_string(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return bytes_json(p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m ? crimp_pbjson_from_message(m) : json_null();
    }
    }
    return json_null();
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

/* A map field is a repeated message whose type is a *Entry with key/value.  */
static bool is_map(const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
        return false;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2;
}

static json_t *repeated_json(const ProtobufCFieldDescriptor *f, const void *base, size_t count)
{
    const char *arr = *(char *const *)base;
    if (is_map(f)) {
        json_t *o = json_object();
        for (size_t i = 0; i < count; i++) {
            const ProtobufCMessage *e = ((ProtobufCMessage *const *)arr)[i];
            const ProtobufCFieldDescriptor *kf = &e->descriptor->fields[0];
            const ProtobufCFieldDescriptor *vf = &e->descriptor->fields[1];
            const char *key = *(char *const *)((const char *)e + kf->offset);
            json_object_set_new(o, key ? key : "", value_json(vf, (const char *)e + vf->offset));
        }
        return o;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, value_json(f, arr + i * value_size(f)));
    return a;
}

/* proto3: a scalar at its zero value is not sent, so not shown.  */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    default: {
        static const char zero[8];
        return memcmp(p, zero, value_size(f)) == 0;
    }
    }
}

json_t *crimp_pbjson_from_message(const ProtobufCMessage *msg)
{
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *p = (const char *)msg + f->offset;
        char name[96];
        crimp_pbjson_camel(f->name, name, sizeof(name));
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)((const char *)msg + f->quantifier_offset);
            if (count > 0)
                json_object_set_new(o, name, repeated_json(f, p, count));
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)((const char *)msg + f->quantifier_offset);
            if (which != f->id)
                continue;
        } else if (is_default(f, p)) {
            continue;
        }
        json_object_set_new(o, name, value_json(f, p));
    }
    return o;
}
