/* libFuzzer target: the SPDY sessions with their handlers — exec/attach
 * (remotecommand.c: stream setup, stdin, resize, the process's output and
 * status) and port-forward (portforward.c: stream pairing, dial failures) —
 * driven through a socketpair like a real connection.
 * Input: a flags byte (bits 0-1 kind: exec, attach, port-forward, exec;
 * bit 2 tty, 3 stdin, 4 stderr, 5 framed output; bits 6-7 the
 * protocol v1..v4), a 16-bit length and that much process output, then
 * the client's bytes (SPDY frames).  */
#include <unistd.h>

#include "fuzz_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const protocols[] = {"channel.k8s.io", "v2.channel.k8s.io", "v3.channel.k8s.io",
                                        "v4.channel.k8s.io"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const struct fuzz_flags f = {
        .tty = flags & 4, .stdin = flags & 8, .stderr_ = flags & 16, .framed = flags & 32};
    static const enum crimp_stream_kind kinds[] = {CRIMP_STREAM_EXEC, CRIMP_STREAM_ATTACH,
                                                   CRIMP_STREAM_PORTFORWARD, CRIMP_STREAM_EXEC};
    enum crimp_stream_kind kind = kinds[flags & 3];
    struct stream_conn c;
    int peer;
    struct stream_request *r = fuzz_prepare(data, size, kind, &f, &c, &peer);
    spdy_codec_init(&c.codec);
    c.codec.max_frame = c.max_message;
    if (kind == CRIMP_STREAM_PORTFORWARD)
        stream_run_portforward(&c, r);
    else
        stream_run_remotecommand(&c, r, protocols[flags >> 6]);
    spdy_codec_free(&c.codec);
    fuzz_finish(&c, peer, r);
    return 0;
}
