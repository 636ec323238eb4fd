"""kubelet's one GetContainerEvents stream keeps every runtime: when a
backend's own events stream ends (its runtime restarted), crimpd follows
that backend again, with a backoff, and its events keep coming on the same
client stream next to the docker backend's.

No runtime here ends an events stream on demand (the bed's containerd 1.6
CRI plugin has no GetContainerEvents, the docker and containerd backends
reconnect by themselves), so the backend that ends it is a small CRI
endpoint in Python behind the cri backend: each of its streams sends one
event and ends."""
import threading
import time
import unittest

import grpc

from crimpe2e import PB, Crimpd, SlowBackend, bed_env, follow_events, main, wait_for

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]


class EndingEvents(SlowBackend):
    """A CRI runtime (crimpe2e's Python one, Version and Status) whose
    GetContainerEvents streams each send one event (container "ev-N" for
    the Nth stream) and end."""

    def __init__(self):
        super().__init__()
        self.streams = 0
        self.lock = threading.Lock()
        events = {"GetContainerEvents": grpc.unary_stream_rpc_method_handler(
            self._events, PB.GetEventsRequest.FromString,
            PB.ContainerEventResponse.SerializeToString)}
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("runtime.v1.RuntimeService", events)])

    def _events(self, req, ctx):
        with self.lock:
            self.streams += 1
            n = self.streams
        yield PB.ContainerEventResponse(container_id=f"ev-{n}",
                                        container_event_type=PB.CONTAINER_STARTED_EVENT,
                                        created_at=time.time_ns())


class FollowAgain(unittest.TestCase):
    def test_a_backend_whose_stream_ended_is_followed_again(self):
        with EndingEvents() as rt, \
                Crimpd(backends=[f"dock=docker:unix://{DOCKER_SOCK}",
                                 f"ending=cri:{rt.endpoint}"]) as crimpd:
            stream, events = follow_events(crimpd.client, timeout=60)
            try:
                # Only the ending backend's: the docker backend reports
                # whatever else the bed's dockerd runs meanwhile.
                ids = lambda: [e.container_id for e in events if e.container_id.startswith("ev-")]
                wait_for(lambda: {"ev-1", "ev-2", "ev-3"} <= set(ids()), 20,
                         "three streams of the ending backend on one client stream")
                self.assertEqual(ids()[:3], ["ev-1", "ev-2", "ev-3"])
                self.assertIn("following it again", crimpd.read_log())
                # The client's stream is still open (the docker backend's too).
                self.assertTrue(stream.is_active())
            finally:
                stream.cancel()


if __name__ == "__main__":
    main()
