"""A unix socket in front of a runtime daemon's socket that can be made to
hang: the runtime as it looks when it stops answering (issue 18's hung
runtime).  Used by the isolation test and by the crash fault suite."""
import os
import shutil
import socket
import tempfile
import threading


class HangingProxy:
    """While hung, nothing the clients write is passed on (requests stay
    unanswered) and new connections are accepted but stay silent.
    `resume()` lets everything through again, including what was written
    while hung: a runtime that catches up late.  A connection made while
    the runtime is down (restarting) is accepted and closed at once, as the
    runtime's own socket would refuse it."""

    def __init__(self, target):
        self.target = target
        self.dir = tempfile.mkdtemp(prefix="ci.", dir="/tmp")
        self.path = os.path.join(self.dir, os.path.basename(target))
        self.open = threading.Event()
        self.open.set()
        self.stopping = False
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(64)
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.srv.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            try:
                upstream.connect(self.target)
            except OSError:
                upstream.close()
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, gated):
        try:
            while True:
                if gated:
                    self.open.wait()
                data = src.recv(65536)
                if not data:
                    break
                if gated:
                    self.open.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self.lock:
                for s in (src, dst):
                    if s in self.conns:
                        self.conns.remove(s)
                        s.close()

    def hang(self):
        self.open.clear()

    def resume(self):
        self.open.set()

    def close(self):
        self.stopping = True
        self.open.set()
        self.srv.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.close()
                except OSError:
                    pass
            self.conns = []
        shutil.rmtree(self.dir, ignore_errors=True)
