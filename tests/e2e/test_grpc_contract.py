"""crimpd's gRPC contract, seen from an independent client (grpcio):
identity (Version, Status), bad input, cancellation and deadlines."""
import concurrent.futures
import time
import unittest

import grpc

from crimpe2e import PB, Client, Crimpd, SlowBackend, bed_env, main

BED = bed_env()
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]


class Identity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.crimpd = Crimpd(backends=[f"ctr=cri:{CTR}"]).start()
        cls.c = cls.crimpd.client

    @classmethod
    def tearDownClass(cls):
        cls.crimpd.cleanup()

    def test_version_is_crimp_and_names_default_backend(self):
        v = self.c.call("Version", version="v1")
        self.assertEqual(v.runtime_name, "crimp")
        self.assertEqual(v.runtime_api_version, "v1")
        self.assertRegex(v.runtime_version, r"^\d+\.\d+\.\d+ \(default backend ctr: ")
        # containerd's CRI plugin answers with its own version behind it.
        self.assertIn("1.", v.runtime_version)

    def test_status_has_a_condition_per_backend(self):
        s = self.c.call("Status", verbose=True)
        conds = {c.type: c for c in s.status.conditions}
        self.assertTrue(conds["RuntimeReady"].status)
        self.assertTrue(conds["NetworkReady"].status, conds["NetworkReady"].message)
        self.assertTrue(conds["BackendReady/ctr"].status)
        self.assertIn("crimp", s.info)

    def test_image_service_is_served_too(self):
        r = self.c.call("ImageFsInfo")
        self.assertGreaterEqual(len(r.image_filesystems), 1)

    def test_many_concurrent_calls_all_answered(self):
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            futures = [pool.submit(self.c.call, "Version", version="v1") for _ in range(256)]
            names = {f.result().runtime_name for f in futures}
        self.assertEqual(names, {"crimp"})


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.crimpd = Crimpd(backends=[f"ctr=cri:{CTR}"],
                            extra=["--max-message-bytes", str(1 << 20)]).start()
        cls.c = cls.crimpd.client

    @classmethod
    def tearDownClass(cls):
        cls.crimpd.cleanup()

    def assertCode(self, code, fn, *args, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception

    def test_malformed_protobuf_is_invalid_argument(self):
        # Field 1 as a length-delimited string claiming 100 bytes it lacks.
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.c.raw,
                            "/runtime.v1.RuntimeService/ContainerStatus", b"\x0a\x64abc")
        self.assertIn("ContainerStatus", e.details())

    def test_wrong_wire_type_is_invalid_argument(self):
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.c.raw,
                        "/runtime.v1.RuntimeService/Version", b"\x0b\x0b\x0b\xff\xff")

    def test_empty_id_is_invalid_argument(self):
        e = self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.c.call,
                            "ContainerStatus", container_id="")
        self.assertIn("container_id", e.details())

    def test_oversized_message_is_resource_exhausted(self):
        req = PB.ImageStatusRequest(image=PB.ImageSpec(image="x" * (2 << 20)))
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, self.c.call, "ImageStatus", req)
        # And the server is still there.
        self.assertEqual(self.c.call("Version").runtime_name, "crimp")

    def test_unknown_method_is_unimplemented(self):
        self.assertCode(grpc.StatusCode.UNIMPLEMENTED, self.c.raw,
                        "/runtime.v1.RuntimeService/NoSuchCall", b"")
        self.assertCode(grpc.StatusCode.UNIMPLEMENTED, self.c.raw,
                        "/runtime.v1alpha2.RuntimeService/Version", b"")

    def test_not_found_from_backend_passes_unchanged(self):
        e = self.assertCode(grpc.StatusCode.NOT_FOUND, self.c.call,
                            "ContainerStatus", container_id="doesnotexist0123")
        self.assertIn("doesnotexist0123", e.details())

    def test_garbage_burst_leaves_server_healthy(self):
        for i in range(200):
            try:
                self.c.raw("/runtime.v1.RuntimeService/RunPodSandbox", bytes([i % 256]) * (i % 17))
            except grpc.RpcError:
                pass
        self.assertEqual(self.c.call("Version").runtime_name, "crimp")


class CancelAndDeadline(unittest.TestCase):
    def test_deadline_is_respected_and_propagated(self):
        with SlowBackend() as slow, Crimpd(backends=[f"slow=cri:{slow.endpoint}"]) as d:
            t0 = time.monotonic()
            with self.assertRaises(grpc.RpcError) as cm:
                d.client.call("ListContainers", timeout=0.5)
            elapsed = time.monotonic() - t0
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertLess(elapsed, 3.0)
            # The backend call carried the deadline and was cut off too.
            self.assertTrue(slow.finished.wait(5), "backend call still running")
            self.assertEqual(d.client.call("Version").runtime_name, "crimp")

    def test_client_cancel_reaches_the_backend(self):
        with SlowBackend() as slow, Crimpd(backends=[f"slow=cri:{slow.endpoint}"]) as d:
            fut = d.client.stub("ListContainers").future(PB.ListContainersRequest(), timeout=60)
            self.assertTrue(slow.started.wait(5), "call never reached the backend")
            fut.cancel()
            self.assertTrue(slow.cancelled.wait(5), "cancel was not propagated to the backend")
            self.assertEqual(d.client.call("Version").runtime_name, "crimp")

    def test_backend_down_is_unavailable_naming_it(self):
        with Crimpd(backends=["gone=cri:unix:///tmp/no-such-crimp-backend.sock"]) as d:
            with self.assertRaises(grpc.RpcError) as cm:
                d.client.call("ListContainers", timeout=10)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("gone", cm.exception.details())
            s = d.client.call("Status")
            conds = {c.type: c for c in s.status.conditions}
            self.assertFalse(conds["BackendReady/gone"].status)


if __name__ == "__main__":
    main()
