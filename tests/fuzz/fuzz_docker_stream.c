/* libFuzzer target for Docker's stdout/stderr multiplexing (the 8-byte
 * frame headers of a non-tty exec, attach or logs stream, decoded by
 * backends/common/mux_frames.c for ExecSync and streaming alike): the input
 * is what dockerd sends, fed in chunks whose size the first byte picks.  Every payload byte handed out
 * is read, and the pieces must add up to the bytes fed minus the headers.  */
#include <stdint.h>
#include <string.h>

#include "common/mux_frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    size_t bytes;
    uint8_t sink;
};

static void on_data(void *ctx, bool is_stderr, const uint8_t *buf, size_t len)
{
    struct tally *t = ctx;
    (void)is_stderr;
    if (len > MUX_FRAME_MAX)
        __builtin_trap();
    for (size_t i = 0; i < len; i++)
        t->sink ^= buf[i];
    t->bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 32 + 1;
    data++;
    size--;
    struct tally t = {0};
    struct mux_demux d = {0};
    size_t fed = 0;
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = off + chunk <= size ? chunk : size - off;
        crimp_error_t err = NULL;
        if (mux_demux_feed(&d, data + off, n, on_data, &t, &err) < 0) {
            if (err == NULL || err->code != GRPC_STATUS_DATA_LOSS)
                __builtin_trap();
            crimp_error_release(&err);
            return 0;
        }
        fed += n;
    }
    /* Payload is what was fed less 8 per complete or started header.  */
    if (t.bytes > fed)
        __builtin_trap();
    return 0;
}
