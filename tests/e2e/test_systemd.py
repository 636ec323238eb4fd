"""crimpd under systemd's protocols, without systemd: readiness and
watchdog notifications to a fake $NOTIFY_SOCKET (a datagram socket this
test reads), and socket activation through systemd-socket-activate (package
systemd), which listens on the CRI socket and starts crimpd on the first
connection, passing the socket as LISTEN_FDS.  No test bed is needed: crimp
answers Version itself, whatever its backend does."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from crimpe2e import CRIMPD, PB, Client, main

ACTIVATE = shutil.which("systemd-socket-activate")


class FakeNotifySocket:
    """systemd's side of sd_notify: records each datagram, and at READY=1
    checks at once that the CRI socket accepts a Version call."""

    def __init__(self, directory, cri_sock):
        self.path = os.path.join(directory, "notify.sock")
        self.cri_sock = cri_sock
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.ready_check = None  # None: no READY yet; True/False: the socket answered
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _check_cri(self):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.cri_sock)
        except OSError as e:
            return f"connect: {e}"
        finally:
            probe.close()
        c = Client("unix://" + self.cri_sock)
        try:
            v = c.call("Version", version="v1", timeout=5)
            return True if v.runtime_name == "crimp" else f"Version: {v}"
        except Exception as e:  # noqa: BLE001 - reported by the test
            return f"Version: {e}"
        finally:
            c.close()

    def _run(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data))
            lines = data.split("\n")
            if "READY=1" in lines and self.ready_check is None:
                self.ready_check = self._check_cri()
                self.ready.set()
            if "STOPPING=1" in lines:
                self.stopping.set()

    def count(self, line):
        return sum(1 for _, m in self.messages if line in m.split("\n"))

    def close(self):
        self.closed = True
        self.thread.join()
        self.sock.close()


class CrimpdUnderSystemd(unittest.TestCase):
    """A crimpd with a fake $NOTIFY_SOCKET; the tests are in the subclasses."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sd.", dir="/tmp")
        self.cri = os.path.join(self.dir, "crimp.sock")
        self.notify = FakeNotifySocket(self.dir, self.cri)
        self.log = open(os.path.join(self.dir, "crimpd.log"), "ab")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def crimpd_args(self):
        return [CRIMPD, "--listen", self.cri, "--state-dir", os.path.join(self.dir, "state"),
                "--backend", "x=cri:unix://" + os.path.join(self.dir, "nobody.sock")]

    def start(self, args, **env):
        full = dict(os.environ, NOTIFY_SOCKET=self.notify.path, **env)
        self.proc = subprocess.Popen(args, env=full, stdout=self.log, stderr=subprocess.STDOUT)

    def read_log(self):
        with open(os.path.join(self.dir, "crimpd.log"), errors="replace") as f:
            return f.read()

    def stop_and_expect_stopping(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.read_log())
        self.assertTrue(self.notify.stopping.wait(5), f"no STOPPING=1: {self.notify.messages}")


class Notifications(CrimpdUnderSystemd):
    def test_ready_only_once_the_socket_answers_then_stopping(self):
        self.start(self.crimpd_args())
        self.assertTrue(self.notify.ready.wait(30), f"no READY=1\n{self.read_log()}")
        self.assertIs(self.notify.ready_check, True,
                      f"READY=1 came before the CRI socket answered: {self.notify.ready_check}")
        first = next(m for _, m in self.notify.messages if "READY=1" in m.split("\n"))
        self.assertIn("STATUS=serving CRI v1 on " + self.cri, first)
        self.assertEqual(self.notify.count("WATCHDOG=1"), 0, "a watchdog nobody asked for")
        self.stop_and_expect_stopping()
        self.assertFalse(os.path.exists(self.cri), "crimpd's own socket is removed at exit")

    def test_reload_says_reloading_then_ready(self):
        self.start(self.crimpd_args())
        self.assertTrue(self.notify.ready.wait(30), self.read_log())
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.notify.count("READY=1") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.notify.count("RELOADING=1"), 1, self.notify.messages)
        self.assertEqual(self.notify.count("READY=1"), 2, self.notify.messages)
        self.stop_and_expect_stopping()

    def test_watchdog_pings_at_half_the_period(self):
        self.start(self.crimpd_args(), WATCHDOG_USEC="200000")
        self.assertTrue(self.notify.ready.wait(30), self.read_log())
        time.sleep(1.0)
        # 100 ms apart: about 10 in a second; a loaded machine may lose a few.
        self.assertGreaterEqual(self.notify.count("WATCHDOG=1"), 5, self.notify.messages)
        self.stop_and_expect_stopping()

    def test_watchdog_for_another_pid_is_not_ours(self):
        self.start(self.crimpd_args(), WATCHDOG_USEC="200000", WATCHDOG_PID="1")
        self.assertTrue(self.notify.ready.wait(30), self.read_log())
        time.sleep(0.6)
        self.assertEqual(self.notify.count("WATCHDOG=1"), 0, self.notify.messages)
        self.stop_and_expect_stopping()


@unittest.skipUnless(ACTIVATE, "systemd-socket-activate not installed (package systemd)")
class SocketActivation(CrimpdUnderSystemd):
    def activate(self, *extra):
        self.start([ACTIVATE, "-l", self.cri, *extra, "-E", "NOTIFY_SOCKET=" + self.notify.path,
                    *self.crimpd_args()])
        deadline = time.monotonic() + 10
        while not os.path.exists(self.cri) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(self.cri), "systemd-socket-activate did not listen")

    def test_first_call_waits_for_crimpd_and_is_answered(self):
        self.activate("--fdname=cri")
        # crimpd is not running yet: this connection starts it, and waits in
        # the socket's backlog until crimpd accepts it.
        c = Client("unix://" + self.cri)
        try:
            v = c.call("Version", version="v1", timeout=30)
        finally:
            c.close()
        self.assertEqual(v.runtime_name, "crimp")
        self.assertIn("socket activation: serving CRI v1 on the socket systemd passed",
                      self.read_log())
        self.assertTrue(self.notify.ready.wait(10), self.read_log())
        self.assertIs(self.notify.ready_check, True, self.notify.ready_check)
        self.stop_and_expect_stopping()
        # The socket is systemd's: crimpd leaves it for the next start.
        self.assertTrue(os.path.exists(self.cri), "crimpd removed systemd's socket")

    def test_many_calls_on_many_connections(self):
        self.activate("--fdname=cri")
        clients = [Client("unix://" + self.cri) for _ in range(8)]
        try:
            for c in clients:
                for _ in range(5):
                    self.assertEqual(c.call("Version", version="v1", timeout=30).runtime_name,
                                     "crimp")
        finally:
            for c in clients:
                c.close()
        self.stop_and_expect_stopping()

    def test_sockets_that_do_not_fit_are_refused_at_start(self):
        other = os.path.join(self.dir, "other.sock")
        self.start([ACTIVATE, "-l", other, "-l", os.path.join(self.dir, "third.sock"),
                    "--fdname=a:b", *self.crimpd_args()])
        # The file appears at bind(), before listen(): a connect in between
        # is refused, so retry until systemd-socket-activate listens.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + 10
        while True:
            try:
                s.connect(other)  # starts crimpd
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    s.close()
                    raise
                time.sleep(0.02)
        try:
            self.assertEqual(self.proc.wait(timeout=30), 1, self.read_log())
        finally:
            s.close()
        self.assertIn("2 sockets passed, none named `cri`", self.read_log())
        self.assertEqual(self.notify.count("READY=1"), 0, self.notify.messages)


if __name__ == "__main__":
    main()
