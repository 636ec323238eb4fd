/* proto3 strings must be UTF-8.  Go's protobuf (kubelet, crictl) refuses
 * anything else on both ends, but protobuf-c unpacks any bytes, and JSON
 * (Docker's bodies, OCI specs) cannot carry them: jansson's constructors
 * return NULL for them, which would surface far from the request as a
 * missing body.  So crimpd checks every string of a request up front.  */
#include "pbutil.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Whether S is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF), as RFC 3629 defines it.  */
static bool utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s++;
        if (c < 0x80)
            continue;
        size_t more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : 0;
        if (more == 0 || c > 0xF4)
            return false;
        uint32_t cp = c & (0x3F >> more);
        for (size_t i = 0; i < more; i++, s++) {
            if ((*s & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (*s & 0x3F);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
    }
    return true;
}

static const char *check_message(const ProtobufCMessage *msg);

/* Checks the N values of field F starting at VALUES.  */
static const char *check_values(const ProtobufCFieldDescriptor *f, const void *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = ((char *const *)values)[i];
            if (s != NULL && !utf8_valid((const unsigned char *)s))
                return f->name;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCMessage *m = ((const ProtobufCMessage *const *)values)[i];
            const char *bad = m ? check_message(m) : NULL;
            if (bad != NULL)
                return bad;
        }
    }
    return NULL;
}

static const char *check_message(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)msg;
        const char *bad = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            bad = check_values(f, *(void *const *)(base + f->offset), n);
        } else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                   *(const uint32_t *)(base + f->quantifier_offset) != f->id) {
            continue; /* another member of the oneof is set */
        } else {
            bad = check_values(f, base + f->offset, 1);
        }
        if (bad != NULL)
            return bad;
    }
    return NULL;
}

const char *crimp_pb_invalid_utf8(const ProtobufCMessage *msg)
{
    return check_message(msg);
}
