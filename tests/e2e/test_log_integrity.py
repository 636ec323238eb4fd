"""No output lost between a container and its CRI log file.

Exit after output, on both backends: a container that prints one line and
exits is reported EXITED (ContainerStatus, ListContainers, the STOPPED
event) only once that line is in its log file.  CRIMP_E2E_LONG=1 runs 200
containers per backend instead of 30.

Continuity on the docker backend: a container printing numbered lines
keeps a complete, gap-free and duplicate-free CRI log across two restarts
of a dockerd with --live-restore (the bed's dockerd is restarted with it,
and without it again at the end) and a crimpd restart made while dockerd
is down; lines a container printed before exiting while crimpd was down
reach the file once crimpd is back; a tty container that prints megabytes
without a newline does not grow crimpd's memory and its output reaches the
file as P lines.

Resume on the containerd backend: output a container prints while crimpd
restarts reaches the log even while containerd itself does not answer
(the copier reads the shim's FIFOs, which need no containerd call)."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from crimpe2e import PB, Crimpd, PodTests, bed_env, follow_events, main, read_text, wait_for
from test_containerd_backend import SOCK as CTRD_SOCK, containerd_backend
from test_docker_backend import DOCKER_SOCK, docker_api, docker_backend

BED = bed_env()
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
ROUNDS = 200 if os.environ.get("CRIMP_E2E_LONG") == "1" else 30


class Pods:
    """PodTests' helpers without its tests (they run in the backend suites)."""

    IMAGE = BUSYBOX
    RUNP_TIMEOUT = PodTests.RUNP_TIMEOUT
    prepare_image = PodTests.prepare_image
    pod_config = PodTests.pod_config
    run_pod = PodTests.run_pod
    run_container = PodTests.run_container
    remove_pod = PodTests.remove_pod


class OwnCrimpd(Pods):
    """A crimpd of the suite's own on a fresh state dir, made by the
    class's new_crimpd() (so that a test can restart it the same way);
    REMOVE_IMAGES: the backend's images go at the end (a private containerd
    namespace; the bed's dockerd keeps its images for the other suites)."""

    REMOVE_IMAGES = False

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-logs-e2e.")
        cls.logdir = os.path.join(cls.state, "logs")
        cls.crimpd = cls.new_crimpd().start()
        cls.c = cls.crimpd.client
        cls.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)), timeout=180)

    @classmethod
    def tearDownClass(cls):
        if cls.REMOVE_IMAGES:
            for img in cls.c.call("ListImages").images:
                cls.c.call("RemoveImage", image=PB.ImageSpec(image=img.id), timeout=60)
        cls.crimpd.cleanup()
        shutil.rmtree(cls.state, ignore_errors=True)


class OnDocker(OwnCrimpd):
    @classmethod
    def new_crimpd(cls):
        return Crimpd(extra=["--config", docker_backend(cls.state),
                             "--state-dir", os.path.join(cls.state, "crimp")])


class OnContainerd(OwnCrimpd):
    NAMESPACE = "crimp-e2e-logs"
    REMOVE_IMAGES = True

    @classmethod
    def new_crimpd(cls):
        return Crimpd(extra=["--config", containerd_backend(cls.state, cls.NAMESPACE),
                             "--state-dir", os.path.join(cls.state, "crimp")])


class ExitAfterOutput(Pods):
    """Mixed into a TestCase whose setUpClass starts crimpd (cls.c)."""

    def check_round(self, pod, cfg, i, how, at_event):
        line = f"line-{i}-{how}"
        at_event["current"] = (os.path.join(cfg.log_directory, f"c{i}.log"), line)
        cid, log = self.run_container(pod, cfg, f"c{i}", ["echo", line])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if how == "status":
                exited = self.c.call("ContainerStatus", container_id=cid).status.state
            else:
                listed = self.c.call("ListContainers", filter=PB.ContainerFilter(id=cid)).containers
                exited = listed[0].state if listed else None
            if exited == PB.CONTAINER_EXITED:
                break
            time.sleep(0.002)
        else:
            self.fail(f"{cid[:12]} never exited")
        # Read at once: the exit was reported, so the line must be there.
        text = read_text(log)
        self.assertIn(" stdout F " + line + "\n", text,
                      f"round {i} ({how}): EXITED reported with the log holding {text!r}")
        wait_for(lambda: cid in at_event, 20, "the STOPPED event")
        self.assertTrue(at_event[cid], f"round {i}: STOPPED sent before the line was logged")
        self.c.call("RemoveContainer", container_id=cid)

    def test_exited_means_logged(self):
        cfg, pod = self.run_pod("exit-after-output")
        at_event = {}  # container id -> its line was in the log at its STOPPED event
        stream, events = follow_events(self.c, timeout=1800)
        stop = threading.Event()

        # follow_events reads the stream into EVENTS; this reads the log at
        # each STOPPED event as a client acting on it would.  One container
        # runs at a time, so the event is the current round's.
        def on_events():
            done = 0
            while not stop.is_set():
                while done < len(events):
                    e = events[done]
                    done += 1
                    if e.container_event_type == PB.CONTAINER_STOPPED_EVENT and \
                            "current" in at_event:
                        path, line = at_event["current"]
                        at_event[e.container_id] = line in read_text(path)
                time.sleep(0.001)

        threading.Thread(target=on_events, daemon=True).start()
        try:
            for i in range(ROUNDS):
                self.check_round(pod, cfg, i, "status" if i % 2 == 0 else "list", at_event)
        finally:
            stop.set()
            stream.cancel()
            self.remove_pod(pod)


class DockerExitAfterOutput(ExitAfterOutput, OnDocker, unittest.TestCase):
    pass


@unittest.skipUnless(CTRD_SOCK, "the bed has no CRI-less containerd")
class ContainerdExitAfterOutput(ExitAfterOutput, OnContainerd, unittest.TestCase):
    pass


DOCKERDS = {}  # pid -> Popen of the dockerds started here, to reap them


def dockerd_argv():
    d = os.path.dirname(DOCKER_SOCK)
    with open(os.path.join(d, "dockerd.pid")) as f:
        pid = int(f.read())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return pid, [a.decode() for a in f.read().split(b"\0") if a]


def gone(pid):
    if pid in DOCKERDS:
        return DOCKERDS[pid].poll() is not None  # reaps it: no zombie left
    return not os.path.exists(f"/proc/{pid}")


def stop_dockerd():
    """SIGTERM the bed's dockerd; returns its command line."""
    pid, argv = dockerd_argv()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not gone(pid):
        time.sleep(0.05)
    assert gone(pid), "dockerd did not stop"
    return argv


def start_dockerd(argv):
    """Starts the bed's dockerd with ARGV (it outlives the test:
    tests/bed/down.sh stops it by its pid file)."""
    d = os.path.dirname(DOCKER_SOCK)
    with open(os.path.join(d, "dockerd.log"), "ab") as log:
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    DOCKERDS[p.pid] = p
    with open(os.path.join(d, "dockerd.pid"), "w") as f:
        f.write(str(p.pid))
    wait_for(lambda: docker_api("/version"), 60, "dockerd back")


def with_live_restore(argv, on):
    argv = [a for a in argv if a != "--live-restore"]
    return argv + ["--live-restore"] if on else argv


def sanitized(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def numbers_in(case, log):
    """The n=K numbers of a CRI log file of one counter container."""
    out = []
    for line in read_text(log).splitlines():
        m = re.fullmatch(r"\S+ stdout F n=(\d+)", line)
        case.assertIsNotNone(m, f"unexpected log line {line!r}")
        out.append(int(m.group(1)))
    return out


class DockerLogContinuity(OnDocker, unittest.TestCase):

    def test_numbered_lines_survive_dockerd_and_crimpd_restarts(self):
        _, argv = dockerd_argv()
        start_dockerd(with_live_restore(stop_dockerd(), True))
        try:
            cfg, pod = self.run_pod("continuity")
            try:
                self.check_continuity(pod, cfg)
            finally:
                self.remove_pod(pod)
        finally:
            start_dockerd(with_live_restore(stop_dockerd(), "--live-restore" in argv))

    def check_continuity(self, pod, cfg):
        cid, log = self.run_container(
            pod, cfg, "counter",
            ["sh", "-c", "i=0; while true; do i=$((i+1)); echo n=$i; sleep 0.15; done"])
        got = lambda: len(numbers_in(self, log))
        wait_for(lambda: got() >= 5, 20, "the first lines")
        # 1: dockerd restarts under a running crimpd.
        start_dockerd(stop_dockerd())
        n = got()
        wait_for(lambda: got() >= n + 10, 30, "lines after the first dockerd restart")
        # 2: crimpd restarts while dockerd is down, and finds it back later.
        argv = stop_dockerd()
        self.assertEqual(self.crimpd.stop(), 0)
        self.crimpd.cleanup()
        type(self).crimpd = self.new_crimpd().start()
        type(self).c = self.crimpd.client
        time.sleep(1.5)  # crimpd up, dockerd not: the copier waits for it
        start_dockerd(argv)
        n = got()
        wait_for(lambda: got() >= n + 10, 30, "lines after the crimpd restart")
        self.assertEqual(self.c.call("ContainerStatus", container_id=cid).status.state,
                         PB.CONTAINER_RUNNING, "live-restore kept the container")
        self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=0),
                    timeout=30)
        nums = numbers_in(self, log)
        self.assertEqual(nums, list(range(1, len(nums) + 1)),
                         "the log has a gap or a line twice")
        # Docker holds the same lines: none missing at the end either.
        self.assertGreaterEqual(len(nums), 25)

    def test_lines_printed_while_crimpd_was_down(self):
        """A container that printed its last lines and exited while crimpd
        was down: the restarted crimpd copies them, and the exit is
        reported with them in the file."""
        cfg, pod = self.run_pod("exit-while-down")
        try:
            cid, log = self.run_container(pod, cfg, "late",
                                          ["sh", "-c", "echo n=1; sleep 3; echo n=2"])
            wait_for(lambda: "n=1" in read_text(log), 20, "the first line")
            self.assertEqual(self.crimpd.stop(), 0)
            self.crimpd.cleanup()
            wait_for(lambda: not docker_api(f"/containers/{cid}/json")["State"]["Running"], 20,
                     "the container to exit")
            type(self).crimpd = self.new_crimpd().start()
            type(self).c = self.crimpd.client
            st = self.c.call("ContainerStatus", container_id=cid).status
            self.assertEqual(st.state, PB.CONTAINER_EXITED)
            self.assertEqual(numbers_in(self, log), [1, 2])
        finally:
            self.remove_pod(pod)

    def test_tty_output_without_newline_stays_bounded(self):
        cfg, pod = self.run_pod("tty-no-newline")
        try:
            before = rss_kib(self.crimpd.proc.pid)
            cid, log = self.run_container(
                pod, cfg, "nonl",
                ["sh", "-c", "head -c 8000000 /dev/zero | tr '\\0' x; sleep 300"], tty=True)
            total = lambda: sum(len(l.split(" ", 3)[3]) for l in read_text(log).splitlines())
            wait_for(lambda: total() >= 8000000 - 64 * 1024, 60,
                     "the output in the log before any newline")
            lines = read_text(log).splitlines()
            self.assertTrue(all(l.split(" ")[2] == "P" for l in lines[:-1]),
                            "every piece but maybe the last is partial")
            # ASan keeps freed memory in quarantine: RSS says nothing there.
            if not sanitized(self.crimpd.proc.pid):
                grown = rss_kib(self.crimpd.proc.pid) - before
                self.assertLess(grown, 4 * 1024, f"crimpd grew by {grown} KiB")
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=0),
                        timeout=30)
        finally:
            self.remove_pod(pod)


@unittest.skipUnless(CTRD_SOCK, "the bed has no CRI-less containerd")
class ContainerdLogResume(OnContainerd, unittest.TestCase):
    NAMESPACE = "crimp-e2e-resume"

    def test_output_reaches_the_log_while_containerd_is_frozen(self):
        cfg, pod = self.run_pod("resume-frozen")
        try:
            cid, log = self.run_container(
                pod, cfg, "counter",
                ["sh", "-c", "i=0; while true; do i=$((i+1)); echo n=$i; sleep 0.05; done"])
            got = lambda: len(numbers_in(self, log))
            wait_for(lambda: got() >= 5, 20, "the first lines")
            self.assertEqual(self.crimpd.stop(), 0)
            self.crimpd.cleanup()
            with open(os.path.join(os.path.dirname(CTRD_SOCK), "containerd.pid")) as f:
                containerd = int(f.read())
            os.kill(containerd, signal.SIGSTOP)
            try:
                time.sleep(1)  # lines wait in the FIFO meanwhile
                type(self).crimpd = self.new_crimpd().start()
                type(self).c = self.crimpd.client
                n = got()
                wait_for(lambda: got() >= n + 30, 15,
                         "lines copied while containerd does not answer")
            finally:
                os.kill(containerd, signal.SIGCONT)
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=0),
                        timeout=60)
            nums = numbers_in(self, log)
            self.assertEqual(nums, list(range(1, len(nums) + 1)),
                             "the log has a gap or a line twice")
        finally:
            self.remove_pod(pod)


if __name__ == "__main__":
    main()
