/* A growable byte buffer that the protocol serializers (spdy.h,
 * websocket.h) append to.  The server copies b->p[0..len) to its socket
 * buffer and then resets or consumes it.  Allocation aborts on OOM
 * (utils.h), so appending cannot fail.  */
#ifndef CRIMP_STREAM_BUF_H
#define CRIMP_STREAM_BUF_H

#include <stddef.h>
#include <stdint.h>

struct stream_buf {
    uint8_t *p;
    size_t len, cap;
};

/* Makes room for N more bytes and returns where they go (len unchanged).  */
uint8_t *stream_buf_reserve(struct stream_buf *b, size_t n);
void stream_buf_append(struct stream_buf *b, const void *data, size_t n);
void stream_buf_put_u8(struct stream_buf *b, uint8_t v);
void stream_buf_put_be16(struct stream_buf *b, uint16_t v);
void stream_buf_put_be32(struct stream_buf *b, uint32_t v);
void stream_buf_reset(struct stream_buf *b);
/* Frees the memory; B is empty and reusable afterwards.  */
void stream_buf_free(struct stream_buf *b);

#define cleanup_stream_buf __attribute__((cleanup(stream_buf_free)))

#endif
