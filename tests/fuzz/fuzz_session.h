/* What the streaming-session fuzzers share: a backend whose "process" is
 * one end of a socketpair already holding the output the input chose (then
 * EOF), requests of each kind, and a client socket fed with the rest of the
 * input.  The session code runs unchanged against them, on this thread.  */
#ifndef CRIMP_FUZZ_SESSION_H
#define CRIMP_FUZZ_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream-internal.h"

/* The process the next exec or attach starts.  */
struct fuzz_process {
    const uint8_t *output; /* what it writes before its EOF */
    size_t n_output;
    size_t n_early;   /* of which this many come with the handshake */
    bool framed; /* stdout/stderr frames (mux_frames.h), decoded by the backends' decoder */
    bool fail_start;
    int exit_code;
    int peer; /* its end of the socketpair, -1 when none */
};
extern struct fuzz_process fuzz_proc;
extern struct crimp_backend fuzz_backend;

/* Quiet logs and no SIGPIPE; call once.  */
void fuzz_session_init(void);
/* Closes what the last process left.  */
void fuzz_process_end(void);

/* The flags byte that starts every session fuzzer's input.  */
struct fuzz_flags {
    bool tty, stdin, stderr_, framed;
};
/* A request of KIND (an exec of `sh`, an attach, a port-forward of ports 80
 * and 8080), owned by the caller (stream_request_free).  */
struct stream_request *fuzz_request(enum crimp_stream_kind kind, const struct fuzz_flags *f);

/* Splits INPUT after the flags byte: a 16-bit big-endian length, that many
 * bytes of process output (into fuzz_proc), the rest for the client.  */
void fuzz_split(const uint8_t *data, size_t size, const uint8_t **client, size_t *n_client);

/* A connected pair: *SERVER for the session, the client's end written with
 * DATA and half-closed, returned to be closed after the session.  */
int fuzz_client(const uint8_t *data, size_t n, int *server);

/* A stream_conn on FD as httpd.c sets one up, with short send limits.  */
void fuzz_conn_init(struct stream_conn *c, int fd);

/* The common start of a session fuzzer: DATA[0] (its flags byte, already
 * read into KIND and F) skipped, the rest split into process output and
 * client bytes, the fake process set up, the client connected to C.  The
 * request to serve is returned; end with fuzz_finish.  */
struct stream_request *fuzz_prepare(const uint8_t *data, size_t size, enum crimp_stream_kind kind,
                                    const struct fuzz_flags *f, struct stream_conn *c, int *peer);
void fuzz_finish(struct stream_conn *c, int peer, struct stream_request *r);

#endif
