/* Ownership helpers for protobuf-c messages.  crimp's rule: every pointer in
 * a message it builds is heap memory the message owns, so one call to
 * protobuf_c_message_free_unpacked() frees it all.  */
#ifndef CRIMP_PBUTIL_H
#define CRIMP_PBUTIL_H

#include <protobuf-c/protobuf-c.h>

/* Frees what MSG's fields own and re-initialises MSG, which itself is not
 * freed (use it for messages on the stack or embedded in a struct).  */
void crimp_pb_free_fields(ProtobufCMessage *msg);

/* Moves the fields of heap message SRC into DST (same type; DST's fields
 * must own nothing yet) and frees SRC's shell.  */
void crimp_pb_move(ProtobufCMessage *dst, ProtobufCMessage *src);

/* A new heap message of type DESC, initialised.  */
ProtobufCMessage *crimp_pb_new(const ProtobufCMessageDescriptor *desc);

#endif
