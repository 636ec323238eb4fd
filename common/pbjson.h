/* protobuf-c messages as JSON, in protobuf's JSON mapping: lowerCamelCase
 * names, enums by name, 64-bit integers as numbers, bytes as text when they
 * are valid UTF-8 (base64 otherwise), maps as objects, unset proto3 scalars
 * left out.  For crimpctl's --json and for the admin API.  */
#ifndef CRIMP_PBJSON_H
#define CRIMP_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* A new JSON object for MSG.  */
json_t *crimp_pbjson_from_message(const ProtobufCMessage *msg);

/* "runtime_api_version" → "runtimeApiVersion" into OUT (size SIZE).  */
void crimp_pbjson_camel(const char *name, char *out, size_t size);

#endif
