/* SPDY/3 framing as Kubernetes streaming uses it (spdystream, "SPDY/3.1"
 * on the wire, draft-3 frames): an incremental decoder fed with whatever
 * the socket gave, and encoders for the frames a server sends.  Header
 * blocks are zlib-compressed with the SPDY dictionary, one compressor per
 * direction per connection, each block flushed with Z_SYNC_FLUSH
 * (docs/streaming.md, "SPDY framing").  */
#ifndef CRIMP_SPDY_FRAME_H
#define CRIMP_SPDY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "error.h"

#define SPDY_DICTIONARY_LEN 1423
extern const unsigned char spdy_dictionary[SPDY_DICTIONARY_LEN];

enum spdy_type {
    SPDY_DATA = 0,
    SPDY_SYN_STREAM = 1,
    SPDY_SYN_REPLY = 2,
    SPDY_RST_STREAM = 3,
    SPDY_SETTINGS = 4,
    SPDY_PING = 6,
    SPDY_GOAWAY = 7,
    SPDY_HEADERS = 8,
    SPDY_WINDOW_UPDATE = 9,
};

#define SPDY_FLAG_FIN 0x01
#define SPDY_RST_PROTOCOL_ERROR 1
#define SPDY_RST_CANCEL 5
#define SPDY_MAX_DATA (32 * 1024) /* what we put in one DATA frame */
/* The largest frame accepted unless max_frame says otherwise (kubelet and
 * client-go send at most 32 KiB of data per frame).  */
#define SPDY_DEFAULT_MAX_FRAME (1024 * 1024)
#define SPDY_MAX_FEED          (64 * 1024) /* the most one socket read feeds */

struct spdy_header {
    char *name, *value;
};

struct spdy_frame {
    enum spdy_type type;
    uint8_t flags;
    uint32_t stream_id; /* GOAWAY: last good stream */
    uint32_t value;     /* RST/GOAWAY status, PING id, WINDOW_UPDATE delta */
    const uint8_t *data; /* DATA payload, valid until the next spdy_next */
    size_t len;
    struct spdy_header *headers; /* SYN_STREAM, SYN_REPLY, HEADERS */
    size_t n_headers;
};

struct spdy_codec {
    z_stream inflater, deflater;
    bool inflater_ready, deflater_ready;
    uint8_t *buf; /* received, not yet decoded */
    size_t len, cap, consumed;
    size_t max_frame; /* a longer frame is a protocol error */
    struct spdy_frame last; /* owns the headers of the frame last returned */
};

void spdy_codec_init(struct spdy_codec *c);
void spdy_codec_free(struct spdy_codec *c);

/* Appends received bytes: < 0, nothing kept, when they would make the
 * undecoded input exceed spdy_codec_max_buffered (a caller that decodes
 * after every feed of at most max(SPDY_MAX_FEED, max_frame) bytes never
 * gets there).  */
int spdy_feed(struct spdy_codec *c, const void *data, size_t len);
size_t spdy_codec_max_buffered(const struct spdy_codec *c);

/* The next complete frame: 1 with *F filled (valid until the next call),
 * 0 when more bytes are needed, < 0 with *err (PROTOCOL_ERROR material:
 * the connection must end).  */
int spdy_next(struct spdy_codec *c, struct spdy_frame *f, crimp_error_t *err);

/* The value of header NAME in F, or NULL.  */
const char *spdy_header(const struct spdy_frame *f, const char *name);

/* A growing output buffer.  */
struct spdy_buf {
    uint8_t *p;
    size_t len, cap;
};
void spdy_buf_free(struct spdy_buf *b);

void spdy_put_syn_reply(struct spdy_codec *c, struct spdy_buf *b, uint32_t stream_id);
void spdy_put_data(struct spdy_buf *b, uint32_t stream_id, uint8_t flags, const void *data,
                   size_t len);
void spdy_put_rst(struct spdy_buf *b, uint32_t stream_id, uint32_t status);
void spdy_put_ping(struct spdy_buf *b, uint32_t id);
void spdy_put_goaway(struct spdy_buf *b, uint32_t last_good, uint32_t status);
/* What a client sends; for tests and crimp's own SPDY client.  */
void spdy_put_syn_stream(struct spdy_codec *c, struct spdy_buf *b, uint32_t stream_id,
                         const struct spdy_header *h, size_t n, uint8_t flags);

#endif
