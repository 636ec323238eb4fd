"""crimpd as a process: signals, sockets, configuration."""
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
import unittest

import grpc

from crimpe2e import CRIMPD, PB, Crimpd, SlowBackend, main, wait_for_socket


class Lifecycle(unittest.TestCase):
    def test_sigterm_exits_zero_and_removes_socket(self):
        d = Crimpd().start()
        try:
            self.assertEqual(stat.S_IMODE(os.stat(d.sock).st_mode), 0o660)
            self.assertEqual(d.stop(), 0)
            self.assertFalse(os.path.exists(d.sock))
            self.assertFalse(os.path.exists(d.admin))
        finally:
            d.cleanup()

    def test_sigint_exits_zero(self):
        d = Crimpd().start()
        try:
            d.signal(signal.SIGINT)
            self.assertEqual(d.wait(), 0)
        finally:
            d.cleanup()

    def test_signal_right_after_start_is_not_lost(self):
        # A stop racing the start of the admin thread once hung crimpd.
        for _ in range(10):
            d = Crimpd().start()
            try:
                d.signal(signal.SIGTERM)
                self.assertEqual(d.wait(timeout=10), 0)
            finally:
                d.cleanup()

    def test_stale_socket_is_replaced(self):
        d = Crimpd()
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind(d.sock)  # a socket file nobody listens on
            s.close()
            d.start()
            self.assertEqual(d.client.call("Version").runtime_name, "crimp")
        finally:
            d.cleanup()

    def test_live_socket_is_refused(self):
        with Crimpd() as first:
            second = subprocess.run([CRIMPD, "--listen", first.sock, "--admin-listen", ""],
                                    capture_output=True, text=True, timeout=10)
            self.assertNotEqual(second.returncode, 0)
            self.assertIn(first.sock, second.stderr)
            self.assertRegex(second.stderr, "(?i)in use|another")
            # The first is untouched.
            self.assertEqual(first.client.call("Version").runtime_name, "crimp")

    def test_drain_lets_in_flight_call_finish(self):
        with SlowBackend(block_seconds=1.0) as slow:
            d = Crimpd(backends=[f"slow=cri:{slow.endpoint}"]).start()
            try:
                fut = d.client.stub("ListContainers").future(PB.ListContainersRequest(), timeout=30)
                self.assertTrue(slow.started.wait(5))
                d.signal(signal.SIGTERM)
                fut.result(timeout=10)  # answered, not cut off
                self.assertEqual(d.wait(), 0)
            finally:
                d.cleanup()

    def test_drain_is_bounded(self):
        with SlowBackend(block_seconds=60) as slow:
            d = Crimpd(backends=[f"slow=cri:{slow.endpoint}"], extra=["--drain-timeout", "1"]).start()
            try:
                fut = d.client.stub("ListContainers").future(PB.ListContainersRequest(), timeout=60)
                self.assertTrue(slow.started.wait(5))
                t0 = time.monotonic()
                d.signal(signal.SIGTERM)
                self.assertEqual(d.wait(timeout=15), 0)
                self.assertLess(time.monotonic() - t0, 8)
                with self.assertRaises(grpc.RpcError):
                    fut.result(timeout=10)
            finally:
                d.cleanup()


class Configuration(unittest.TestCase):
    def run_crimpd(self, *args):
        return subprocess.run([CRIMPD, *args], capture_output=True, text=True, timeout=10)

    def test_help_lists_options_with_defaults(self):
        r = self.run_crimpd("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--listen", "--config", "--backend", "--workers", "--max-message-bytes"):
            self.assertIn(opt, r.stdout)
        self.assertIn("/run/crimp/crimp.sock", r.stdout)

    def test_print_config_fills_backend_option_defaults(self):
        d = Crimpd()
        path = os.path.join(d.dir, "opts.json")
        with open(path, "w") as f:
            json.dump({"listen": d.sock, "backends": [
                {"name": "d", "type": "docker", "endpoint": "unix:///x.sock",
                 "options": {"cni_timeout": "30"}},
                {"name": "c", "type": "containerd", "endpoint": "unix:///y.sock",
                 "options": {"cni_timeout": "30"}}]}, f)
        r = self.run_crimpd("--config", path, "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        backends = json.loads(r.stdout)["backends"]
        self.assertEqual(backends[0]["options"]["cni_timeout"], "30")
        self.assertEqual(backends[0]["options"]["log_drain_ms"], 2000)
        self.assertEqual(backends[0]["options"]["privileged"], "auto")
        self.assertNotIn("namespace", backends[0]["options"])
        self.assertEqual(backends[1]["options"]["namespace"], "k8s.io")
        self.assertEqual(backends[1]["options"]["cni_timeout"], "30")
        with open(path, "w") as f:
            json.dump({"listen": d.sock, "backends": [
                {"name": "d", "type": "docker", "endpoint": "unix:///x.sock",
                 "options": {"log_drain_ms": 700000}}]}, f)
        r = self.run_crimpd("--config", path, "--print-config")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("options.log_drain_ms: 700000 is not in 0..600000", r.stderr)

    def test_bad_config_key_is_named(self):
        d = Crimpd()
        try:
            path = os.path.join(d.dir, "bad.json")
            with open(path, "w") as f:
                json.dump({"listen": d.sock, "wrokers": 4}, f)
            r = self.run_crimpd("--config", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("wrokers", r.stderr)
            with open(path, "w") as f:
                json.dump({"listen": d.sock, "workers": "many"}, f)
            r = self.run_crimpd("--config", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("workers", r.stderr)
            with open(path, "w") as f:
                f.write("{not json")
            r = self.run_crimpd("--config", path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(path, r.stderr)
            self.assertFalse(os.path.exists(d.sock))
        finally:
            d.cleanup()

    def test_flags_override_config_file(self):
        d = Crimpd()
        try:
            path = os.path.join(d.dir, "c.json")
            with open(path, "w") as f:
                json.dump({"workers": 3, "backends": [
                    {"name": "a", "type": "cri", "endpoint": "unix:///a.sock"}]}, f)
            r = self.run_crimpd("--config", path, "--workers", "5", "--print-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            cfg = json.loads(r.stdout)
            self.assertEqual(cfg["workers"], 5)
            self.assertEqual(cfg["backends"][0]["name"], "a")
        finally:
            d.cleanup()

    def test_bad_flag_values_refused(self):
        for args in (["--workers", "0"], ["--backend", "x=nosuchtype:/a"], ["--socket-mode", "999"],
                     ["--no-such-flag"]):
            r = self.run_crimpd(*args, "--listen", "/tmp/crimp-never.sock")
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), args)


if __name__ == "__main__":
    main()
