/* libFuzzer target: the WebSocket sessions with their handlers — exec and
 * attach over channel.k8s.io (ws_session.c: stdin, resize, v5 close,
 * output, status), port-forward over channels (ws_portforward.c) and SPDY
 * tunnelled in binary messages (port-forward behind ws_link.c) — driven
 * through a socketpair like a real connection.
 * Input: a flags byte (bits 0-2 the channel protocol, 3-4 the session:
 * exec, attach, port-forward, SPDY tunnel; bit 5 tty, 6 stdin, 7
 * framed output), a 16-bit length and that much process output, then
 * the client's bytes (masked WebSocket frames).  */
#include <unistd.h>

#include "fuzz_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    enum ws_chan_proto proto = (enum ws_chan_proto)((flags & 7) % WS_CHAN_N_PROTOS);
    int mode = (flags >> 3) & 3;
    const struct fuzz_flags f = {
        .tty = flags & 32, .stdin = flags & 64, .stderr_ = true, .framed = flags & 128};
    static const enum crimp_stream_kind kinds[] = {
        CRIMP_STREAM_EXEC, CRIMP_STREAM_ATTACH, CRIMP_STREAM_PORTFORWARD, CRIMP_STREAM_PORTFORWARD};
    struct stream_conn c;
    int peer;
    struct stream_request *r = fuzz_prepare(data, size, kinds[mode], &f, &c, &peer);
    if (mode == 3) {
        stream_run_spdy_tunnel(&c, r);
    } else if (mode == 2) {
        const int ports[] = {80, 8080, 9};
        stream_run_ws_portforward(&c, r, proto, ports, 1 + size % 3);
    } else {
        stream_run_ws_remotecommand(&c, r, proto);
    }
    fuzz_finish(&c, peer, r);
    return 0;
}
