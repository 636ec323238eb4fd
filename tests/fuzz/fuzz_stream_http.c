/* libFuzzer target: a whole connection to the streaming server — the
 * request head (http_head.c), token, negotiation and upgrade (httpd.c),
 * then the SPDY or WebSocket session it chose, against the fuzz backend.
 * The input is the client's byte stream; "@EXEC@@@", "@ATCH@@@" and
 * "@PFWD@@@" are replaced by live tokens of that kind, so the fuzzer need
 * not guess them.  The process writes a few bytes and exits 3.  */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_session.h"
#include "utils.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct crimp_stream_server *server;

static const struct {
    const char *mark;
    enum crimp_stream_kind kind;
} marks[] = {{"@EXEC@@@", CRIMP_STREAM_EXEC},
             {"@ATCH@@@", CRIMP_STREAM_ATTACH},
             {"@PFWD@@@", CRIMP_STREAM_PORTFORWARD}};

/* Registers a token for every mark in BUF and writes it there; returns
 * them for cleanup.  */
static void place_tokens(uint8_t *buf, size_t n, char *tokens[3], const struct fuzz_flags *f)
{
    for (size_t k = 0; k < 3; k++) {
        tokens[k] = NULL;
        uint8_t *at = memmem(buf, n, marks[k].mark, 8);
        if (at == NULL)
            continue;
        struct stream_request *r = fuzz_request(marks[k].kind, f);
        crimp_error_t err = NULL;
        char *url = crimp_stream_register(server, marks[k].kind, &fuzz_backend, 0, r->req, &err);
        stream_request_free(r);
        if (url == NULL) {
            crimp_error_release(&err);
            continue;
        }
        tokens[k] = xstrdup(strrchr(url, '/') + 1);
        free(url);
        for (; at; at = memmem(at + 8, n - (size_t)(at + 8 - buf), marks[k].mark, 8))
            memcpy(at, tokens[k], 8);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (server == NULL) {
        fuzz_session_init();
        const struct crimp_stream_limits limits = {
            .idle_seconds = 1, .head_seconds = 1, .max_message = 64 * 1024};
        crimp_error_t err = NULL;
        server = crimp_stream_start("127.0.0.1:0", &limits, NULL, &err);
        if (server == NULL)
            __builtin_trap();
    }
    static const uint8_t output[] = "out\n";
    fuzz_proc = (struct fuzz_process){.output = output, .n_output = 4, .exit_code = 3, .peer = -1};
    const struct fuzz_flags f = {.tty = size & 1, .stdin = true, .stderr_ = true};
    uint8_t *buf = xmalloc(size + 1);
    memcpy(buf, data, size);
    char *tokens[3];
    place_tokens(buf, size, tokens, &f);
    int fd;
    int peer = fuzz_client(buf, size, &fd);
    stream_serve_connection(server, fd);
    close(fd);
    close(peer);
    fuzz_process_end();
    /* Tokens the request did not use go back, so they never pile up.  */
    for (size_t k = 0; k < 3; k++) {
        struct stream_request *r =
            tokens[k] ? stream_tokens_take(stream_server_tokens(server), tokens[k], marks[k].kind)
                      : NULL;
        if (r)
            crimp_backend_release(r->backend);
        stream_request_free(r);
        free(tokens[k]);
    }
    /* Every session let go of the backend it held.  */
    if (atomic_load(&fuzz_backend.stream_users) != 0)
        __builtin_trap();
    free(buf);
    return 0;
}
