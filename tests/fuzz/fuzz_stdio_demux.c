/* libFuzzer target: a session's output path (stdio_output_feed in
 * stream/stdio.c) through the backends' decoder of stdout/stderr frames
 * (common/mux_frames.c, the crimp_stream_output a docker or containerd
 * io carries), or raw when bit 7 of the first byte is clear.  Fed in
 * chunks of a size the first byte picks, checked against a direct reading
 * of the same bytes: every payload byte comes out once, in order, on the
 * stream its frame header names, whatever the split, and the first header
 * that is not a frame ends the stream with DATA_LOSS, exactly there.  */
#include <stdlib.h>
#include <string.h>

#include "common/mux_frames.h"
#include "fuzz_session.h"

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

static bool header_ok(const uint8_t *h, size_t *len)
{
    *len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    return h[0] <= 2 && !h[1] && !h[2] && !h[3] && *len <= MUX_FRAME_MAX;
}

/* The reference: whole frames read straight from the input; true when a
 * bad header stops it.  */
static bool read_frames(const uint8_t *data, size_t size, struct sink *want)
{
    for (size_t off = 0; off + 8 <= size;) {
        size_t len;
        if (!header_ok(data + off, &len))
            return true;
        size_t take = len < size - off - 8 ? len : size - off - 8;
        collect(want, data[off] == 2, data + off + 8, take);
        off += 8 + take;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        fuzz_session_init(); /* quiet logs */
        ready = true;
    }
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 32 + 1;
    bool framed = data[0] & 0x80;
    data++, size--;
    struct sink got = {{malloc(size + 1), malloc(size + 1)}, {0, 0}};
    struct sink want = {{malloc(size + 1), malloc(size + 1)}, {0, 0}};
    struct crimp_stream_io io = {.fd = -1, .output = framed ? mux_demux_output_new() : NULL};
    crimp_error_t err = NULL;
    bool failed = false;
    for (size_t off = 0; off < size && !failed; off += step)
        failed = stdio_output_feed(&io, data + off, size - off < step ? size - off : step,
                                   collect, &got, &err) < 0;
    bool bad = framed ? read_frames(data, size, &want) : (collect(&want, false, data, size), false);
    if (failed != bad || (failed && err->code != GRPC_STATUS_DATA_LOSS))
        __builtin_trap();
    for (int k = 0; k < 2; k++)
        if (got.len[k] != want.len[k] || memcmp(got.buf[k], want.buf[k], got.len[k]) != 0)
            __builtin_trap();
    crimp_error_release(&err);
    stdio_io_free(&io);
    for (int k = 0; k < 2; k++) {
        free(got.buf[k]);
        free(want.buf[k]);
    }
    return 0;
}
