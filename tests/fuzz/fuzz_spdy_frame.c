/* libFuzzer target for the SPDY/3 decoder the streaming server uses
 * (stream/spdy_frame.c): the input is one client connection's byte stream,
 * fed in chunks whose size the first byte picks.  Every decoded frame is
 * read in full so that ASan sees any pointer past the input, and every
 * header block is encoded again and decoded back to the same headers.  */
#include <stdint.h>
#include <string.h>

#include "spdy_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const struct spdy_frame *f)
{
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < f->len; i++)
        sink ^= f->data[i];
    for (size_t i = 0; i < f->n_headers; i++)
        sink ^= (uint8_t)(strlen(f->headers[i].name) + strlen(f->headers[i].value));
    (void)sink;
}

/* What the decoder accepted, the encoder must reproduce.  */
static void round_trip(const struct spdy_frame *f)
{
    struct spdy_codec enc, dec;
    spdy_codec_init(&enc);
    spdy_codec_init(&dec);
    struct spdy_buf b = {0};
    spdy_put_syn_stream(&enc, &b, 1, f->headers, f->n_headers, 0);
    spdy_feed(&dec, b.p, b.len);
    struct spdy_frame g;
    crimp_error_t err = NULL;
    if (spdy_next(&dec, &g, &err) != 1 || g.n_headers != f->n_headers)
        __builtin_trap();
    for (size_t i = 0; i < g.n_headers; i++)
        if (strcmp(g.headers[i].name, f->headers[i].name) != 0 ||
            strcmp(g.headers[i].value, f->headers[i].value) != 0)
            __builtin_trap();
    spdy_buf_free(&b);
    spdy_codec_free(&enc);
    spdy_codec_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    struct spdy_codec c;
    spdy_codec_init(&c);
    c.max_frame = 1 << 20;
    crimp_error_t err = NULL;
    for (size_t off = 0; off < size; off += chunk) {
        spdy_feed(&c, data + off, off + chunk <= size ? chunk : size - off);
        struct spdy_frame f;
        int r;
        while ((r = spdy_next(&c, &f, &err)) > 0) {
            touch(&f);
            if (f.type == SPDY_SYN_STREAM)
                round_trip(&f);
        }
        if (r < 0) {
            crimp_error_release(&err);
            break;
        }
    }
    spdy_codec_free(&c);
    return 0;
}
