/* The decoder of stdout/stderr frames (mux_frames.h).  */
#include "mux_frames.h"

#include <string.h>

#include "utils.h"

static uint32_t be32(const uint8_t b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A complete header: checks it and starts its frame.  */
static int start_frame(struct mux_demux *d, crimp_error_t *err)
{
    const uint8_t *h = d->header;
    uint32_t size = be32(h + 4);
    if (h[0] > 2 || h[1] || h[2] || h[3])
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "output stream lost its framing: bad frame header "
                                "%02x %02x %02x %02x",
                                h[0], h[1], h[2], h[3]);
    if (size > MUX_FRAME_MAX)
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "output stream lost its framing: a frame of %u bytes "
                                "(at most %d)",
                                size, MUX_FRAME_MAX);
    d->is_stderr = h[0] == 2;
    d->remaining = size;
    return 0;
}

int mux_demux_feed(struct mux_demux *d, const uint8_t *p, size_t n, crimp_stdio_emit_fn *emit,
                   void *ctx, crimp_error_t *err)
{
    while (n > 0) {
        if (d->remaining == 0) {
            size_t want = MUX_FRAME_HEADER - d->header_len;
            size_t take = want < n ? want : n;
            memcpy(d->header + d->header_len, p, take);
            d->header_len += take;
            p += take;
            n -= take;
            if (d->header_len < MUX_FRAME_HEADER)
                return 0;
            d->header_len = 0;
            if (start_frame(d, err) < 0)
                return -1;
            continue;
        }
        size_t take = d->remaining < n ? d->remaining : n;
        emit(ctx, d->is_stderr, p, take);
        d->remaining -= (uint32_t)take;
        p += take;
        n -= take;
    }
    return 0;
}

struct demux_output {
    struct crimp_stream_output base; /* first: the session holds a pointer to it */
    struct mux_demux demux;
};

static int output_feed(struct crimp_stream_output *self, const uint8_t *p, size_t n,
                       crimp_stdio_emit_fn *emit, void *ctx, crimp_error_t *err)
{
    return mux_demux_feed(&((struct demux_output *)self)->demux, p, n, emit, ctx, err);
}

static void output_free(struct crimp_stream_output *self)
{
    free(self);
}

struct crimp_stream_output *mux_demux_output_new(void)
{
    struct demux_output *o = xcalloc(1, sizeof(*o));
    o->base = (struct crimp_stream_output){.feed = output_feed, .free = output_free};
    return &o->base;
}
