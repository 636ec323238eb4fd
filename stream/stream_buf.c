/* struct stream_buf: the output side of the protocol layer.  */
#include "stream_buf.h"

#include <string.h>

#include "utils.h"

uint8_t *stream_buf_reserve(struct stream_buf *b, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len)
        abort(); /* no caller can ask for this much; treat as OOM */
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->len;
}

void stream_buf_append(struct stream_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    memcpy(stream_buf_reserve(b, n), data, n);
    b->len += n;
}

void stream_buf_put_u8(struct stream_buf *b, uint8_t v)
{
    stream_buf_append(b, &v, 1);
}

void stream_buf_put_be16(struct stream_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    stream_buf_append(b, x, sizeof(x));
}

void stream_buf_put_be32(struct stream_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    stream_buf_append(b, x, sizeof(x));
}

void stream_buf_reset(struct stream_buf *b)
{
    b->len = 0;
}

void stream_buf_free(struct stream_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
