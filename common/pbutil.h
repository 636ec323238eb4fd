/* Ownership helpers for protobuf-c messages.  crimp's rule: every pointer in
 * a message it builds is heap memory the message owns, so one call to
 * protobuf_c_message_free_unpacked() frees it all.  */
#ifndef CRIMP_PBUTIL_H
#define CRIMP_PBUTIL_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* Frees what MSG's fields own and re-initialises MSG, which itself is not
 * freed (use it for messages on the stack or embedded in a struct).  */
void crimp_pb_free_fields(ProtobufCMessage *msg);

/* Moves the fields of heap message SRC into DST (same type; DST's fields
 * must own nothing yet) and frees SRC's shell.  */
void crimp_pb_move(ProtobufCMessage *dst, ProtobufCMessage *src);

/* A new heap message of type DESC, initialised.  */
ProtobufCMessage *crimp_pb_new(const ProtobufCMessageDescriptor *desc);

/* Every protobuf-c map<string,string> entry has this layout; only the
 * descriptor differs between maps.  */
struct crimp_pb_map_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

/* Builds the entries of a map<string,string> field from a JSON object of
 * strings (non-strings are skipped): returns the array (NULL when empty) and
 * sets *N.  ENTRY_DESC is the map's entry type, e.g.
 * &runtime__v1__pod_sandbox__labels_entry__descriptor.  */
void *crimp_pb_map_from_json(const ProtobufCMessageDescriptor *entry_desc, json_t *obj,
                             size_t *n);

/* A JSON object of the entries of a map<string,string> field.  */
json_t *crimp_pb_map_to_json(void *const *entries, size_t n);

/* A copy of N map entries as entries of another map<string,string> field
 * (ENTRY_DESC: the target's entry type), e.g. a config's labels into a
 * status's; sets *N_OUT.  */
void *crimp_pb_map_copy(const ProtobufCMessageDescriptor *entry_desc, void *const *entries,
                        size_t n, size_t *n_out);

/* A heap copy of S for a response field ("" stays a fresh empty string).  */
char *crimp_pb_strdup(const char *s);

/* The name of the first string field of MSG (nested messages, repeated
 * fields and map entries included) that is not valid UTF-8, or NULL when
 * all are (pbutf8.c).  */
const char *crimp_pb_invalid_utf8(const ProtobufCMessage *msg);

#endif
