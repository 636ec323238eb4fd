/* RFC 6455 WebSocket for kubelet's streaming protocols
 * (docs/streaming.md): the handshake accept key and
 * subprotocol choice, an incremental frame parser for client frames, a frame
 * serializer for server frames, and the channel.k8s.io message encodings.
 * Pure protocol code: no sockets, no event loop, no HTTP parsing.
 *
 * Errors follow error.h: < 0 and *err set.  Malformed input yields
 * GRPC_STATUS_INVALID_ARGUMENT with a "websocket: ..." message; the parser
 * then stays failed and the server should send a close frame with
 * p->close_code and close the connection.  */
#ifndef CRIMP_WEBSOCKET_H
#define CRIMP_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "stream_buf.h"

#define WS_GUID                "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Kubernetes clients send at most 32 KiB of payload per message; crimp's
 * server takes its limit from its options (stream_max_message).  */
#define WS_DEFAULT_MAX_MESSAGE (1024u * 1024)
#define WS_MAX_FEED            (64 * 1024) /* the most one socket read feeds */
#define WS_MAX_HEADER          14          /* 2 + 8-byte length + mask key */
#define WS_MAX_CONTROL_PAYLOAD 125
#define WS_ACCEPT_KEY_LEN      28 /* base64 of a SHA-1 digest */

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never sent; reported for an empty close */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key KEY (surrounding
 * blanks ignored) into OUT (NUL-terminated).  INVALID_ARGUMENT if KEY is not
 * base64 of 16 bytes (RFC 6455 §4.2.1: answer 400).  */
int ws_accept_key(const char *key, char out[WS_ACCEPT_KEY_LEN + 1], crimp_error_t *err);

#define WS_SUBPROTO_NO_MATCH     (-1) /* offered, none supported: answer 403 */
#define WS_SUBPROTO_NONE_OFFERED (-2) /* omit Sec-WebSocket-Protocol in the 101 */

/* Chooses a subprotocol: OFFERS are the values of every
 * Sec-WebSocket-Protocol request line, each a comma-separated list.  The
 * client's order wins: returns the index in SUPPORTED of the first offered
 * name the server supports (exact match), or one of the codes above.  */
int ws_select_subprotocol(const char *const *offers, size_t n_offers, const char *const *supported,
                          size_t n_supported);

/* A complete message (fragments reassembled) or a control frame.  DATA
 * points into parser memory, valid until the next call on the parser.
 * Text messages and close reasons have been checked to be UTF-8.  */
struct ws_message {
    enum ws_opcode opcode; /* TEXT, BINARY, CLOSE, PING or PONG */
    const uint8_t *data;
    size_t len;
    uint16_t close_code;      /* CLOSE: the status, WS_CLOSE_NO_STATUS if none */
    const char *close_reason; /* CLOSE: not NUL-terminated */
    size_t close_reason_len;
};

/* Fields are private; embed the struct and use the functions.  */
struct ws_parser {
    bool failed;
    uint16_t close_code; /* what to send in the close frame after a failure */
    bool require_mask;
    size_t max_message;
    uint8_t *buf; /* input not yet consumed: buf[pos..len) */
    size_t len, cap, pos;
    struct stream_buf msg; /* fragments of the message being reassembled */
    enum ws_opcode msg_op; /* its TEXT or BINARY opcode */
    bool in_message;       /* a non-FIN data frame was seen */
    bool msg_delivered;    /* msg was returned: reset it on the next call */
};

/* MAX_MESSAGE (0: WS_DEFAULT_MAX_MESSAGE) caps a reassembled message.
 * REQUIRE_MASK: true on the server side, where RFC 6455 requires every
 * client frame to be masked.  */
void ws_parser_init(struct ws_parser *p, size_t max_message, bool require_mask);
void ws_parser_free(struct ws_parser *p);

/* Appends LEN received bytes; any split is fine.  Invalidates the data of
 * the message last returned.  < 0 (close code 1009, nothing kept) when the
 * undecoded input would exceed ws_parser_max_buffered: a caller that calls
 * ws_parser_next until it returns 0 after each feed of at most WS_MAX_FEED
 * bytes never gets there.  */
int ws_parser_feed(struct ws_parser *p, const void *data, size_t len, crimp_error_t *err);
size_t ws_parser_max_buffered(const struct ws_parser *p);

/* The next message or control frame: returns 1 with *M filled, 0 when more
 * bytes are needed, < 0 (INVALID_ARGUMENT) on a protocol violation: RSV
 * bits, unknown opcode, unmasked client frame, fragmented or oversized
 * control frame, continuation without a message, new message inside a
 * fragmented one, message over max_message (close code 1009), invalid
 * UTF-8 in text or close reason (1007), bad close payload.  After a failure
 * every call fails; send a close frame with p->close_code.  The server must
 * answer PING with PONG (same payload) and CLOSE with CLOSE.  */
int ws_parser_next(struct ws_parser *p, struct ws_message *m, crimp_error_t *err);

/* Appends one unmasked (server) frame.  Control frames must have FIN and at
 * most 125 bytes; otherwise INVALID_ARGUMENT and nothing is written.  */
int ws_put_frame(struct stream_buf *out, enum ws_opcode op, bool fin, const void *data, size_t len,
                 crimp_error_t *err);
/* The same, masked with KEY: what a client sends (tests, fuzz seeds).  */
int ws_put_masked_frame(struct stream_buf *out, enum ws_opcode op, bool fin, const void *data,
                        size_t len, const uint8_t key[4], crimp_error_t *err);
/* A close frame with CODE (0: empty payload) and REASON (NULL or up to 123
 * bytes).  */
int ws_put_close(struct stream_buf *out, uint16_t code, const char *reason, crimp_error_t *err);

/* channel.k8s.io: every message is one channel byte and a payload.  */
enum ws_chan_proto {
    WS_CHAN_V1,        /* "channel.k8s.io", or no subprotocol: binary, raw byte */
    WS_CHAN_BASE64,    /* "base64.channel.k8s.io": text, '0'+channel, base64 */
    WS_CHAN_V4,        /* "v4.channel.k8s.io": binary, JSON status on 3 */
    WS_CHAN_V4_BASE64, /* "v4.base64.channel.k8s.io": text, JSON status on 3 */
    WS_CHAN_V5,        /* "v5.channel.k8s.io": v4 plus the 255 close signal */
    WS_CHAN_N_PROTOS,
};

#define WS_CHAN_STDIN  0
#define WS_CHAN_STDOUT 1
#define WS_CHAN_STDERR 2
#define WS_CHAN_ERROR  3
#define WS_CHAN_RESIZE 4
#define WS_CHAN_CLOSE  255 /* v5, client to server: "FF <channel>" = EOF */

/* Sec-WebSocket-Protocol names indexed by enum ws_chan_proto.  */
extern const char *const ws_chan_proto_names[WS_CHAN_N_PROTOS];

/* ws_select_subprotocol over ws_chan_proto_names: returns 1 and *OUT when
 * one was chosen (echo ws_chan_proto_names[*OUT]); 0 when the client offered
 * none (*OUT = WS_CHAN_V1, send no Sec-WebSocket-Protocol, as upstream);
 * WS_SUBPROTO_NO_MATCH when nothing offered is supported (answer 403).  */
int ws_chan_select(const char *const *offers, size_t n_offers, enum ws_chan_proto *out);

/* Port-forward over WebSocket (§6.4) has its own list, as kubelet's
 * portforward/websocket.go: "v4.channel.k8s.io" (binary),
 * "v4.base64.channel.k8s.io" (base64) and, for clients that name the
 * protocol rather than the framing, "portforward.k8s.io" (binary); and
 * WS_SPDY_TUNNEL_PROTOCOL, where binary messages carry no channels but a
 * byte stream of SPDY frames (§6.5).  Returns like ws_chan_select, with
 * *NAME the subprotocol to echo.  */
#define WS_SPDY_TUNNEL_PROTOCOL "SPDY/3.1+portforward.k8s.io"
int ws_chan_select_portforward(const char *const *offers, size_t n_offers,
                               enum ws_chan_proto *out, const char **name);

bool ws_chan_is_base64(enum ws_chan_proto proto);
/* v4 and v5 write a JSON metav1.Status on the error channel.  */
bool ws_chan_status_json(enum ws_chan_proto proto);

/* A decoded channel message.  */
struct ws_chan_msg {
    uint8_t channel;
    bool close; /* v5 close signal: CHANNEL's input reached EOF, no data */
    const uint8_t *data;
    size_t len;
};

/* Decodes a TEXT or BINARY message M under PROTO.  Returns 1 with *OUT; 0
 * for an empty message (to be ignored); < 0 (INVALID_ARGUMENT) for bad
 * base64 or a v5 close signal that is not exactly two bytes.  Base64
 * payloads are decoded into SCRATCH, which OUT->data then points into.  */
int ws_chan_decode(enum ws_chan_proto proto, const struct ws_message *m, struct stream_buf *scratch,
                   struct ws_chan_msg *out, crimp_error_t *err);

/* Appends one complete frame carrying CHANNEL and DATA under PROTO (binary
 * frame for binary protocols, text frame for base64 ones).  A LEN of 0
 * gives the bare channel byte, e.g. the "ready" message sent after the
 * 101.  INVALID_ARGUMENT for a channel base64 cannot encode (> 207).  */
int ws_chan_put(struct stream_buf *out, enum ws_chan_proto proto, uint8_t channel, const void *data,
                size_t len, crimp_error_t *err);

#endif
