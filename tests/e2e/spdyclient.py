"""A small SPDY/3 client in Python for the streaming tests: an
implementation independent of crimp's C one (zlib's own dictionary
support, Python sockets), speaking what client-go's spdystream sends."""
import json
import socket
import struct
import urllib.parse
import zlib

_NAMES = ["options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
          "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
          "cache-control", "connection", "content-base", "content-encoding", "content-language",
          "content-length", "content-location", "content-md5", "content-range", "content-type",
          "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
          "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
          "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range",
          "referer", "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade",
          "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status",
          "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
         "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
         "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
         "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
         "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
         "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(n)) + n.encode() for n in _NAMES) + _TAIL.encode()
assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == 0xE3C6A7C2

SYN_STREAM, SYN_REPLY, RST_STREAM, PING, GOAWAY = 1, 2, 3, 6, 7
FIN = 1


class UpgradeError(Exception):
    def __init__(self, status, head, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status, self.head, self.body = status, head, body


class Frame:
    def __init__(self, ctype, flags, stream_id, data=b"", headers=None, value=0):
        self.ctype, self.flags, self.stream_id = ctype, flags, stream_id
        self.data, self.headers, self.value = data, headers or {}, value

    def __repr__(self):
        return f"Frame(type={self.ctype}, sid={self.stream_id}, flags={self.flags}, len={len(self.data)})"


class Client:
    def __init__(self, url, protocols, timeout=30):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        lines = [f"POST {u.path} HTTP/1.1", f"Host: {u.netloc}", "Content-Length: 0",
                 "Connection: Upgrade", "Upgrade: SPDY/3.1"]
        lines += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise UpgradeError(0, "", b"connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        head = head.decode()
        status = int(head.split()[1])
        if status != 101:
            raise UpgradeError(status, head, self.buf)
        self.protocol = next((l.split(":", 1)[1].strip() for l in head.split("\r\n")
                              if l.lower().startswith("x-stream-protocol-version:")), None)
        self._start()

    @classmethod
    def over(cls, sock, protocol):
        """A client on a byte stream that needs no HTTP upgrade: SPDY
        tunnelled in WebSocket messages (SPDY/3.1+portforward.k8s.io)."""
        self = cls.__new__(cls)
        self.sock, self.buf, self.protocol = sock, b"", protocol
        self._start()
        return self

    def _start(self):
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                        zdict=DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.next_id = 1

    def close(self):
        self.sock.close()

    def _send_control(self, ctype, flags, payload):
        self.sock.sendall(struct.pack(">HHI", 0x8003, ctype, (flags << 24) | len(payload)) + payload)

    def syn_stream(self, headers, flags=0):
        sid = self.next_id
        self.next_id += 2
        block = struct.pack(">I", len(headers))
        for k, v in headers.items():
            block += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        comp = self.deflate.compress(block) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self._send_control(SYN_STREAM, flags, struct.pack(">IIH", sid, 0, 0) + comp)
        return sid

    def data(self, sid, payload=b"", fin=False):
        self.sock.sendall(struct.pack(">II", sid, ((FIN if fin else 0) << 24) | len(payload)) + payload)

    def ping(self, pid):
        self._send_control(PING, 0, struct.pack(">I", pid))

    def goaway(self):
        self._send_control(GOAWAY, 0, struct.pack(">II", 0, 0))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk

    def read_frame(self):
        self._need(8)
        w1, w2 = struct.unpack(">II", self.buf[:8])
        length, flags = w2 & 0xFFFFFF, w2 >> 24
        self._need(8 + length)
        payload, self.buf = self.buf[8:8 + length], self.buf[8 + length:]
        if not w1 & 0x80000000:
            return Frame(0, flags, w1 & 0x7FFFFFFF, data=payload)
        ctype = w1 & 0xFFFF
        if ctype in (SYN_REPLY, 8):
            sid = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            block = self.inflate.decompress(payload[4:])
            return Frame(ctype, flags, sid, headers=_parse_block(block))
        if ctype in (RST_STREAM, GOAWAY):
            sid, value = struct.unpack(">II", payload)
            return Frame(ctype, flags, sid, value=value)
        if ctype == PING:
            return Frame(ctype, flags, 0, value=struct.unpack(">I", payload)[0])
        return Frame(ctype, flags, 0, data=payload)

    def open_streams(self, kinds, extra=None):
        """Opens streams one after another, each after its SYN_REPLY, as client-go does."""
        ids = {}
        for kind in kinds:
            sid = self.syn_stream({"streamtype": kind, **(extra or {})})
            f = self.read_frame()
            assert f.ctype == SYN_REPLY and f.stream_id == sid, f
            ids[kind] = sid
        return ids

    def collect(self, ids, until_fin=("stdout", "stderr", "error"), on_frame=None):
        """Reads DATA per stream until every stream named in UNTIL_FIN ended."""
        by_id = {v: k for k, v in ids.items()}
        out = {k: bytearray() for k in ids}
        open_ = {k for k in until_fin if k in ids}
        while open_:
            f = self.read_frame()
            if on_frame:
                on_frame(f)
            if f.ctype == 0 and f.stream_id in by_id:
                out[by_id[f.stream_id]] += f.data
                if f.flags & FIN:
                    open_.discard(by_id[f.stream_id])
            elif f.ctype == RST_STREAM and f.stream_id in by_id:
                open_.discard(by_id[f.stream_id])
        return {k: bytes(v) for k, v in out.items()}


def _parse_block(block):
    (n,) = struct.unpack(">I", block[:4])
    off, headers = 4, {}
    for _ in range(n):
        (kl,) = struct.unpack(">I", block[off:off + 4])
        k = block[off + 4:off + 4 + kl].decode()
        off += 4 + kl
        (vl,) = struct.unpack(">I", block[off:off + 4])
        headers[k] = block[off + 4:off + 4 + vl].decode()
        off += 4 + vl
    return headers


def exit_code_of(status_bytes):
    """The exit code a v4 error stream reports (0 for Success)."""
    st = json.loads(status_bytes)
    if st["status"] == "Success":
        return 0
    for cause in st.get("details", {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    raise AssertionError(f"no exit code in {st}")
