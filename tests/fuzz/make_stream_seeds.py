#!/usr/bin/env python3
"""Writes the seed inputs of the streaming-session fuzzers into
tests/fuzz/seeds/<target>/: well-formed sessions as client-go and the
WebSocket clients send them (the SPDY encoding is tests/e2e/spdyclient.py's),
plus the oversized resize of issue 16.  Run from anywhere; rewrites the
files."""
import base64
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from spdyclient import DICTIONARY  # noqa: E402

RESIZE = json.dumps({"Width": 80, "Height": 24}).encode()


class Spdy:
    """Client frames with one compressor, as a connection has."""

    def __init__(self):
        self.z = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                  zdict=DICTIONARY)
        self.out = b""

    def control(self, ctype, flags, payload):
        self.out += struct.pack(">HHI", 0x8003, ctype, (flags << 24) | len(payload)) + payload

    def syn(self, sid, headers):
        block = struct.pack(">I", len(headers))
        for k, v in headers.items():
            block += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        comp = self.z.compress(block) + self.z.flush(zlib.Z_SYNC_FLUSH)
        self.control(1, 0, struct.pack(">IIH", sid, 0, 0) + comp)
        return self

    def data(self, sid, payload=b"", fin=False):
        self.out += struct.pack(">II", sid, ((1 if fin else 0) << 24) | len(payload)) + payload
        return self

    def ping(self, pid):
        self.control(6, 0, struct.pack(">I", pid))
        return self

    def rst(self, sid):
        self.control(3, 0, struct.pack(">II", sid, 5))
        return self

    def goaway(self):
        self.control(7, 0, struct.pack(">II", 0, 0))
        return self


def remotecommand(kinds, stdin=b"", resize=None, fin=True):
    s = Spdy()
    ids = {}
    for i, kind in enumerate(kinds):
        ids[kind] = 1 + 2 * i
        s.syn(ids[kind], {"streamtype": kind})
    if "stdin" in ids:
        s.data(ids["stdin"], stdin, fin=fin)
    if resize is not None:
        s.data(ids["resize"], resize)
    return s.ping(1).goaway().out


def portforward():
    s = Spdy()
    s.syn(1, {"streamtype": "error", "port": "80", "requestid": "0"}).data(1, fin=True)
    s.syn(3, {"streamtype": "data", "port": "80", "requestid": "0"})
    s.data(3, b"GET / HTTP/1.0\r\n\r\n", fin=True).rst(3)
    s.syn(5, {"streamtype": "data", "port": "8080"})  # no requestid: paired by stream id
    s.syn(7, {"streamtype": "bogus", "port": "0"})
    return s.ping(3).goaway().out


def ws_frame(payload, opcode=2, fin=True, key=b"\x01\x02\x03\x04"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_exec(b64=False):
    def msg(ch, data):
        if b64:
            return ws_frame((chr(ord("0") + ch) + base64.b64encode(data).decode()).encode(), 1)
        return ws_frame(bytes([ch]) + data)
    out = msg(0, b"echo hi\n") + msg(4, RESIZE) + ws_frame(b"ping", 9)
    out += ws_frame(b"\x00part-", fin=False) + ws_frame(b"two", 0)  # fragmented stdin
    out += ws_frame(b"\xff\x00")  # v5: stdin ended
    return out + ws_frame(b"\x03\xe8", 8)  # close 1000


def docker_frames(*parts):
    return b"".join(bytes([s, 0, 0, 0]) + struct.pack(">I", len(p)) + p for s, p in parts)


def flags_output(flags, output):
    return bytes([flags]) + struct.pack(">H", len(output)) + output


def http(head_lines, body=b""):
    return ("\r\n".join(head_lines) + "\r\n\r\n").encode() + body


def seeds():
    out = {}
    v4, tty, stdin, stderr, mux = 3 << 6, 4, 8, 16, 32
    muxed = docker_frames((1, b"out\n"), (2, b"err\n"))
    spdy = out["fuzz_stream_spdy"] = {}
    spdy["exec-v4"] = flags_output(v4 | stdin | stderr | mux, muxed) + remotecommand(
        ["error", "stdin", "stdout", "stderr"], b"input\n")
    spdy["exec-tty-resize"] = flags_output(v4 | tty | stdin, b"\x1b[0mhi\r\n") + remotecommand(
        ["error", "stdin", "stdout", "resize"], b"ls\n", RESIZE + b"\n")
    spdy["exec-resize-oversized"] = flags_output(v4 | stdin, b"") + remotecommand(
        ["error", "stdin", "stdout", "resize"], b"", b"x" * 4096, fin=False)
    spdy["attach-v2"] = flags_output((1 << 6) | 1 | stdin | stderr | mux, muxed) + remotecommand(
        ["error", "stdin", "stdout", "stderr"], b"typed\n")
    spdy["exec-v1"] = flags_output(stderr, b"plain") + remotecommand(
        ["error", "stdout", "stderr"])
    spdy["portforward"] = flags_output(2, b"") + portforward()
    ws = out["fuzz_stream_ws"] = {}
    # flags: bits 0-2 protocol (0 v1, 1 base64, 2 v4, 3 v4 base64, 4 v5), 3-4 mode.
    ws["exec-v5"] = flags_output(4 | 64 | 128, muxed) + ws_exec()
    ws["exec-v4-tty"] = flags_output(2 | 32 | 64, b"tty out") + ws_exec()
    ws["exec-base64"] = flags_output(1 | 64, b"x") + ws_exec(b64=True)
    ws["attach-v4"] = flags_output(2 | (1 << 3) | 64 | 128, muxed) + ws_exec()
    ws["resize-oversized"] = flags_output(2 | 64, b"") + ws_frame(b"\x04" + b"x" * 4096)
    ws["portforward"] = flags_output(2 | (2 << 3), b"") + ws_frame(b"\x00GET /\r\n\r\n") + \
        ws_frame(b"\x02data") + ws_frame(b"\x03\xe8", 8)
    tunnel = portforward()
    ws["tunnel"] = flags_output(2 | (3 << 3), b"") + ws_frame(tunnel[:20]) + \
        ws_frame(tunnel[20:]) + ws_frame(b"\x03\xe8", 8)
    h = out["fuzz_stream_http"] = {}
    spdy_head = ["POST /exec/@EXEC@@@ HTTP/1.1", "Host: 10.0.0.5:10250", "Content-Length: 0",
                 "Connection: Upgrade", "Upgrade: SPDY/3.1",
                 "X-Stream-Protocol-Version: v5.channel.k8s.io",
                 "X-Stream-Protocol-Version: v4.channel.k8s.io, channel.k8s.io"]
    h["spdy-exec"] = http(spdy_head, remotecommand(["error", "stdin", "stdout", "stderr"], b"in"))
    h["spdy-attach"] = http([l.replace("/exec/@EXEC@@@", "/attach/@ATCH@@@") for l in spdy_head],
                            remotecommand(["error", "stdin", "stdout", "stderr"]))
    h["spdy-portforward"] = http(
        ["POST /portforward/@PFWD@@@ HTTP/1.1", "Connection: Upgrade", "Upgrade: SPDY/3.1",
         "X-Stream-Protocol-Version: portforward.k8s.io"], portforward())
    ws_head = ["GET /exec/@EXEC@@@ HTTP/1.1", "Host: x", "Upgrade: websocket",
               "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
               "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: v5.channel.k8s.io"]
    h["ws-exec"] = http(ws_head, ws_exec())
    h["ws-exec-b64"] = http(ws_head[:-1] + ["Sec-WebSocket-Protocol: base64.channel.k8s.io"],
                            ws_exec(b64=True))
    h["ws-portforward"] = http(
        ["GET /portforward/@PFWD@@@?port=80&port=8080 HTTP/1.1", "Upgrade: websocket",
         "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
         "Sec-WebSocket-Protocol: v4.channel.k8s.io"], ws_frame(b"\x00GET /\r\n\r\n"))
    h["ws-tunnel"] = http(
        ["GET /portforward/@PFWD@@@ HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
         "Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io"], ws_frame(portforward()))
    h["ws-resize-oversized"] = http(ws_head[:-1] + ["Sec-WebSocket-Protocol: v4.channel.k8s.io"],
                                    ws_frame(b"\x04" + b"x" * 4096))
    h["bad-protocol"] = http(spdy_head[:5] + ["X-Stream-Protocol-Version: v9.example"])
    h["unknown-token"] = http(["GET /exec/AAAAAAAA HTTP/1.1", "Host: x"])
    d = out["fuzz_stdio_demux"] = {}
    d["frames"] = bytes([0x80 | 3]) + muxed + docker_frames((1, b"x" * 300))
    d["raw"] = bytes([5]) + b"raw bytes from a tty"
    d["truncated"] = bytes([0x80]) + docker_frames((2, b"long payload"))[:-4]
    return out


def main():
    for target, files in seeds().items():
        d = os.path.join(HERE, "seeds", target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
