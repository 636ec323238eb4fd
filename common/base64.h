/* Padded base64 (RFC 4648): the standard alphabet for the WebSocket
 * handshake and base64.channel.k8s.io, the URL-safe one for Docker's
 * X-Registry-Auth header and random names.  */
#ifndef CRIMP_BASE64_H
#define CRIMP_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters encoding LEN bytes takes, padding included (no NUL).  */
#define CRIMP_BASE64_LEN(n) (4 * (((n) + 2) / 3))

/* The 64 characters of the URL-safe alphabet ("-" and "_" for 62, 63).  */
extern const char crimp_base64url_alphabet[65];

/* Base64 of IN[0..LEN) into OUT, which needs CRIMP_BASE64_LEN(LEN) + 1
 * bytes; NUL-terminates and returns the length written.  */
size_t crimp_base64_encode(const void *in, size_t len, char *out);
size_t crimp_base64url_encode(const void *in, size_t len, char *out);

/* Decodes standard padded base64 IN[0..LEN) into OUT (room for 3*LEN/4
 * bytes).  Returns the decoded length, or -1 if IN is not canonical padded
 * base64 (no whitespace accepted).  */
long crimp_base64_decode(const char *in, size_t len, uint8_t *out);

#endif
