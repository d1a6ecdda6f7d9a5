"""SSE resumption: clients that drop their connection at random moments (mid-frame included) and
come back with Last-Event-ID, over several concurrent deployments and a server restart (SIGTERM,
then the same data dir and port; in the split topology both servers), receive every event
exactly once and in order: what they pieced together equals a full replay from the beginning,
and the global stream (?after=0) holds the same events in the same order.

The disconnect moments come from random.Random(seed); the seed is printed (HPD_SSE_SEED=<seed>
replays the same choices, thread timing aside). Run by ctest with HPDEPLOY set.
"""

import http.client
import os
import random
import socket
import sys
import threading
import time
import unittest

from platform_base import DEPLOYMENTS, PlatformCase, both_topologies, deployment_body, new_job_id
from rest_api import SseClient, follow


class ResumingReader(threading.Thread):
    """Follows one deployment's events to `end`, disconnecting at random."""

    def __init__(self, api, job_id, rng, deadline):
        super().__init__(daemon=True)
        self.api = api
        self.path = f"{DEPLOYMENTS}/{job_id}/events"
        self.rng = rng
        self.deadline = deadline
        self.received = []  # SseEvents, end excluded
        self.ended = False
        self.connections = 0
        self.drops = 0
        self.errors = []  # problems that must fail the test
        self.current = None

    def last_id(self):
        return self.received[-1].id if self.received else None

    def run(self):
        try:
            self.follow()
        except BaseException as e:  # an assertion (contract) or a bug: fail the test with it
            self.errors.append(f"{self.path}: {type(e).__name__}: {e}")

    def follow(self):
        while not self.ended and time.time() < self.deadline:
            try:
                stream = SseClient(self.api, self.path, last_event_id=self.last_id(), timeout=30)
            except (OSError, http.client.HTTPException):
                time.sleep(self.rng.uniform(0.05, 0.3))  # the server is restarting
                continue
            self.connections += 1
            if stream.status != 200:
                stream.close()
                if stream.status == 503:
                    time.sleep(0.2)
                    continue
                self.errors.append(f"{self.path}: {stream.error_response.describe()}")
                return
            # Cut the connection at a random moment from another thread (possibly mid-frame),
            # or after a random number of frames.
            timer = threading.Timer(self.rng.uniform(0.05, 2.5), self.cut, args=(stream,))
            timer.start()
            frames = self.rng.randint(1, 12)
            try:
                for e in stream:
                    if e.event == "end":
                        self.ended = True
                        break
                    last = self.last_id()
                    if last is not None and e.sequence <= int(last):
                        self.errors.append(f"{self.path}: event {e.id} after {last} "
                                           f"(resumed with Last-Event-ID {last})")
                        return
                    self.received.append(e)
                    frames -= 1
                    if frames == 0:
                        break
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                timer.cancel()
                stream.close()
            self.drops += 0 if self.ended else 1

    def cut(self, stream):
        try:
            if stream.conn.sock is not None:
                stream.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SseResumeTests:
    def test_random_disconnects_and_a_restart_lose_and_repeat_nothing(self):
        seed = int(os.environ.get("HPD_SSE_SEED", random.SystemRandom().randrange(1 << 30)))
        print(f"\nsse_resume_test seed: {seed} (HPD_SSE_SEED={seed} to replay)", file=sys.stderr)
        rng = random.Random(seed)
        owners = [self.alice, self.bob, self.alice]
        jobs = []
        for api in owners:
            jobs.append(self.create(api=api, body=deployment_body(new_job_id("sse")))["jobId"])
        deadline = time.time() + 420
        readers = [ResumingReader(api, job, random.Random(rng.randrange(1 << 30)), deadline)
                   for api, job in zip(owners, jobs)]
        for r in readers:
            r.start()

        # Restart once the readers are well into the deployments.
        def progress():
            return sum(len(r.received) for r in readers)
        while progress() < 15 and time.time() < deadline and any(r.is_alive() for r in readers):
            time.sleep(0.1)
        self.assertTrue(all(not r.ended for r in readers),
                        "a deployment ended before the restart: nothing was tested across it")
        restart_at = progress()
        self.topo.restart()
        for r in readers:
            r.join(max(1, deadline - time.time()))

        for r, job in zip(readers, jobs):
            self.assertEqual(r.errors, [], f"{job} (seed {seed})")
            self.assertTrue(r.ended, f"{job}: no end within the time (seed {seed}); "
                                     f"{len(r.received)} events")
            print(f"{job}: {len(r.received)} events over {r.connections} connections, "
                  f"{r.drops} drops", file=sys.stderr)
        self.assertGreater(sum(len(r.received) for r in readers), restart_at,
                           "events after the restart")
        self.assertTrue(any(r.drops > 0 for r in readers), "no client ever disconnected")

        replays = {}
        for api, r, job in zip(owners, readers, jobs):
            replay = follow(api, f"{DEPLOYMENTS}/{job}/events", timeout=60)
            self.assertEqual(replay[-1].event, "end")
            replay = replay[:-1]
            replays[job] = replay
            got = [e.key() for e in r.received]
            want = [e.key() for e in replay]
            if got != want:
                missing = [k[0] for k in want if k not in got]
                extra = [k[0] for k in got if k not in want]
                self.fail(f"{job} (seed {seed}): pieced-together stream != replay: "
                          f"missing ids {missing[:20]}, unexpected ids {extra[:20]}, "
                          f"{len(got)} vs {len(want)} events")
            statuses = [e.json["detail"]["status"] for e in replay if e.event == "status"]
            self.assertEqual(statuses[-1], "SUCCEEDED", f"{job}: {statuses}")

        # The global stream from the start holds each deployment's events in the same order.
        last = max(e.sequence for replay in replays.values() for e in replay)
        seen = follow(self.admin, "/api/v1/hyperpod/events?after=0", timeout=120,
                      on_event=lambda e: e.sequence >= last)
        sequences = [e.sequence for e in seen]
        self.assertEqual(sequences, sorted(set(sequences)))
        for job, replay in replays.items():
            ids = {e.id for e in replay}
            self.assertEqual([e.key() for e in seen if e.id in ids], [e.key() for e in replay],
                             f"{job}: the global stream differs")

    def test_after_query_and_header_agree(self):
        job = self.create()["jobId"]
        events = self.events(job)[:-1]
        middle = events[len(events) // 2]
        by_header = follow(self.admin, f"{DEPLOYMENTS}/{job}/events", last_event_id=middle.id)
        by_query = follow(self.admin, f"{DEPLOYMENTS}/{job}/events?after={middle.id}")
        self.assertEqual([e.key() for e in by_header], [e.key() for e in by_query])
        self.assertEqual([e.key() for e in by_header[:-1]],
                         [e.key() for e in events if e.sequence > middle.sequence])
        # After the last event: only the end.
        tail = follow(self.admin, f"{DEPLOYMENTS}/{job}/events", last_event_id=events[-1].id)
        self.assertEqual([e.event for e in tail], ["end"])


both_topologies(SseResumeTests, globals())

if __name__ == "__main__":
    unittest.main()
