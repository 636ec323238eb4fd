/* Docker's hijacked streams: exec start and attach answer with "101
 * UPGRADED" (or 200) and then turn the HTTP connection into a raw
 * bidirectional byte stream, which libcurl cannot hand over.  crimp talks
 * HTTP/1.1 itself on a socket it owns for these two calls.  */
#ifndef CRIMP_DOCKER_HIJACK_H
#define CRIMP_DOCKER_HIJACK_H

#include <stddef.h>

#include "error.h"

/* Connects to SOCKET_PATH, sends METHOD PATH with the JSON BODY (may be
 * NULL) and the upgrade headers, and reads the response head.  On 101/200
 * returns the connected fd, positioned at the first byte of the stream (any
 * stream bytes that arrived with the head are in *EARLY, length *N_EARLY,
 * caller frees).  Otherwise < 0 with *err carrying Docker's message and the
 * code of its HTTP status.  TIMEOUT_MS bounds connecting and the head.  */
int docker_hijack(const char *socket_path, const char *method, const char *path,
                  const char *body, int timeout_ms, char **early, size_t *n_early,
                  crimp_error_t *err);

/* The reply part of docker_hijack, on the connected FD after the request
 * was sent: reads the head and checks its status, as above.  Returns 0 and
 * leaves FD open on 101/200.  */
int docker_hijack_reply(int fd, const char *method, const char *path, int timeout_ms,
                        char **early, size_t *n_early, crimp_error_t *err);

#endif
