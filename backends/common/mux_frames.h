/* Separate stdout and stderr over one byte stream: each piece of output
 * goes as an 8-byte header [stream, 0, 0, 0, size as big-endian uint32]
 * and SIZE bytes of payload; stream 1 is stdout, 2 stderr (0, stdin, reads
 * as stdout).  This is the framing of Docker's non-tty exec, attach and
 * logs streams, and the containerd backend frames the output its relay and
 * attach fan-out hand to crimp's streaming server the same way, so that
 * one decoder, this one, serves every backend (streaming and ExecSync).  */
#ifndef CRIMP_MUX_FRAMES_H
#define CRIMP_MUX_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "error.h"

#define MUX_FRAME_HEADER 8
/* The largest payload one header may announce.  Docker writes what one
 * read of the process's output gave (32 KiB buffers), crimp's writers at
 * most 64 KiB: a bigger size means the stream lost its framing.  */
#define MUX_FRAME_MAX (1024 * 1024)

/* The header for N bytes of STDERR or stdout output (N <= MUX_FRAME_MAX).  */
static inline void mux_frame_header(uint8_t h[MUX_FRAME_HEADER], bool is_stderr, uint32_t n)
{
    h[0] = is_stderr ? 2 : 1;
    h[1] = h[2] = h[3] = 0;
    h[4] = (uint8_t)(n >> 24);
    h[5] = (uint8_t)(n >> 16);
    h[6] = (uint8_t)(n >> 8);
    h[7] = (uint8_t)n;
}

/* The decoder: takes bytes as they come, split anywhere.  Zeroed is a
 * fresh one.  */
struct mux_demux {
    uint8_t header[MUX_FRAME_HEADER];
    size_t header_len;  /* header bytes gathered so far */
    uint32_t remaining; /* payload bytes still due in the current frame */
    bool is_stderr;
};

/* Feeds N bytes, emitting each payload piece through EMIT.  < 0
 * (DATA_LOSS) on a header that is not a frame (unknown stream, nonzero
 * padding, a size over MUX_FRAME_MAX); the stream is then unusable.  */
int mux_demux_feed(struct mux_demux *d, const uint8_t *p, size_t n, crimp_stdio_emit_fn *emit,
                   void *ctx, crimp_error_t *err);

/* The decoder as a streaming session's output (struct crimp_stream_io),
 * freed through its free op.  */
struct crimp_stream_output *mux_demux_output_new(void);

#endif
