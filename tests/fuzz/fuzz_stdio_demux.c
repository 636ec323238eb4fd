/* libFuzzer target: the multiplexed stream decoder (stdio_demux_feed in
 * stream/stdio.c), fed in chunks of a size the first byte picks, checked
 * against a direct reading of the same bytes: every payload byte comes out
 * once, in order, on the stream its frame header names, whatever the
 * split.  */
#include <stdlib.h>
#include <string.h>

#include "stream-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    uint8_t *buf[2];
    size_t len[2];
};

static void collect(void *ctx, bool is_stderr, const uint8_t *p, size_t n)
{
    struct sink *s = ctx;
    memcpy(s->buf[is_stderr] + s->len[is_stderr], p, n);
    s->len[is_stderr] += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 32 + 1;
    bool multiplexed = data[0] & 0x80;
    data++, size--;
    struct sink got = {{malloc(size + 1), malloc(size + 1)}, {0, 0}};
    struct sink want = {{malloc(size + 1), malloc(size + 1)}, {0, 0}};
    struct stdio_demux d = {.multiplexed = multiplexed};
    for (size_t off = 0; off < size; off += step)
        stdio_demux_feed(&d, data + off, size - off < step ? size - off : step, collect, &got);
    /* The reference: whole frames read straight from the input.  */
    if (!multiplexed) {
        collect(&want, false, data, size);
    } else {
        for (size_t off = 0; off + 8 <= size;) {
            size_t len = (size_t)data[off + 4] << 24 | (size_t)data[off + 5] << 16 |
                         (size_t)data[off + 6] << 8 | data[off + 7];
            size_t take = len < size - off - 8 ? len : size - off - 8;
            collect(&want, data[off] == 2, data + off + 8, take);
            off += 8 + take;
        }
    }
    for (int k = 0; k < 2; k++)
        if (got.len[k] != want.len[k] || memcmp(got.buf[k], want.buf[k], got.len[k]) != 0)
            __builtin_trap();
    for (int k = 0; k < 2; k++) {
        free(got.buf[k]);
        free(want.buf[k]);
    }
    return 0;
}
