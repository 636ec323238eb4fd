/* Docker's hijacked streams: exec start and attach answer with "101
 * UPGRADED" (or 200) and then turn the HTTP connection into a raw
 * bidirectional byte stream, which libcurl cannot hand over.  crimp talks
 * HTTP/1.1 itself on a socket it owns for these two calls.  */
#ifndef CRIMP_DOCKER_HIJACK_H
#define CRIMP_DOCKER_HIJACK_H

#include <stddef.h>
#include <stdint.h>

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

/* Docker multiplexes stdout and stderr of a non-tty stream into frames:
 * an 8-byte header [stream, 0, 0, 0, size as big-endian uint32] and SIZE
 * bytes of payload.  The demuxer takes bytes as they come and calls ON_DATA
 * for each payload piece.  */
enum docker_stream { DOCKER_STDIN = 0, DOCKER_STDOUT = 1, DOCKER_STDERR = 2 };

struct docker_demux {
    uint8_t header[8];
    size_t header_len; /* header bytes gathered so far */
    uint32_t remaining; /* payload bytes still due in the current frame */
    enum docker_stream stream;
    void (*on_data)(void *ctx, enum docker_stream stream, const char *data, size_t len);
    void *ctx;
};

void docker_demux_init(struct docker_demux *d,
                       void (*on_data)(void *ctx, enum docker_stream, const char *, size_t),
                       void *ctx);

/* Feeds LEN bytes; < 0 (DATA_LOSS) on a header that is not a frame.  */
int docker_demux_feed(struct docker_demux *d, const char *buf, size_t len, crimp_error_t *err);

#endif
