"""Webhooks end to end, in both topologies.

- A receiver that is not listening for the first 30 s (connections refused), then accepts:
  every event of the deployments arrives, in order per deployment, each with a valid
  X-Hpd-Signature-256 (sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>); a server
  restart during the backoff loses nothing; the delivery log shows the failed attempts, then
  the deliveries. A deployer's webhook receives only that deployer's events.
- A receiver that always answers 500, with `--webhook-max-attempts 3
  --webhook-initial-backoff-ms 200`: each event is tried 3 times and dead-lettered, and delivery
  moves on to the next event.

Run by ctest with HPDEPLOY set.
"""

import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest
import uuid

import serving
from platform_base import PlatformCase, both_topologies, deployment_body, new_job_id
from rest_api import wait_for

SECRET = "a-webhook-secret-of-some-length"
RECEIVER_DOWN_SECONDS = 30


class Receiver:
    """An HTTP server in a thread recording every POST; answers `status`."""

    def __init__(self, port, status=200):
        self.port = port
        self.status = status
        self.requests = []  # (path, headers (lower-case), body bytes, time)
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                         time.time()))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r[0] == path]

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


def signature(secret, timestamp, body):
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


class WebhookDeliveryTests:
    API_FLAGS = ("--webhook-initial-backoff-ms", "500")

    def test_a_receiver_down_for_30_s_and_a_restart_lose_nothing(self):
        receiver = Receiver(serving.free_port())
        r = self.admin.post("/api/v1/webhooks", {"url": receiver.url("/all"), "secret": SECRET,
                                                 "description": "everything"})
        self.assertStatus(r, 201)
        hook = r.json
        self.assertTrue(hook["id"].startswith("wh-"))
        self.assertTrue(hook["hasSecret"])
        self.assertNotIn(SECRET, r.body.decode())
        self.assertEqual(hook["createdBy"], "admin")
        r = self.alice.post("/api/v1/webhooks", {"url": receiver.url("/alice")})
        self.assertStatus(r, 201)
        alice_hook = r.json
        self.assertEqual(alice_hook["owner"], "alice")
        self.assertFalse(alice_hook["hasSecret"])
        # Alice sees her webhook only; bob neither; the admin both.
        self.assertEqual([w["id"] for w in self.alice.get("/api/v1/webhooks").json["webhooks"]],
                         [alice_hook["id"]])
        self.assertStatus(self.bob.get(f"/api/v1/webhooks/{alice_hook['id']}"), 404,
                          "WebhookNotFound")
        self.assertStatus(self.bob.delete(f"/api/v1/webhooks/{alice_hook['id']}"), 404,
                          "WebhookNotFound")
        self.assertEqual({w["id"] for w in self.admin.get("/api/v1/webhooks").json["webhooks"]},
                         {hook["id"], alice_hook["id"]})
        down_since = time.time()

        jobs = {"alice": self.create(api=self.alice)["jobId"],
                "bob": self.create(api=self.bob)["jobId"]}
        # A restart while the receiver refuses connections (deliveries are backing off).
        wait_for(lambda: self.admin.get(f"/api/v1/webhooks/{hook['id']}").json[
            "failedAttempts"] >= 2, 60, "failed delivery attempts")
        self.topo.restart()
        time.sleep(max(0.0, down_since + RECEIVER_DOWN_SECONDS - time.time()))
        receiver.start()
        try:
            expected = {}
            for owner, job in jobs.items():
                api = self.alice if owner == "alice" else self.bob
                expected[job] = self.events(job, api=api)[:-1]
            want = {e.json["id"] for events in expected.values() for e in events}

            def all_arrived():
                got = {r[1].get("x-hpd-event-id") for r in receiver.received("/all")}
                return want <= got
            try:
                wait_for(all_arrived, 300, "every event at the receiver", interval=0.5)
            except AssertionError:
                got = {r[1].get("x-hpd-event-id") for r in receiver.received("/all")}
                self.fail(f"{len(want - got)} of {len(want)} events never arrived; webhook: "
                          f"{self.admin.get('/api/v1/webhooks/' + hook['id']).body!r}")
            alice_ids = [e.json["id"] for e in expected[jobs["alice"]]]
            wait_for(lambda: set(alice_ids) <= {r[1].get("x-hpd-event-id")
                                                for r in receiver.received("/alice")},
                     300, "alice's events at her webhook", interval=0.5)
        finally:
            receiver.stop()

        deliveries = receiver.received("/all")
        self.assertGreater(min(r[3] for r in deliveries), down_since + RECEIVER_DOWN_SECONDS - 1)
        first_arrival = []
        seen = set()
        for path, headers, body, _ in deliveries:
            envelope = json.loads(body)
            self.assertEqual(headers.get("content-type", "").split(";")[0], "application/json")
            self.assertEqual(headers.get("x-hpd-event-id"), envelope["id"])
            self.assertRegex(headers.get("x-hpd-event-sequence", ""), r"^[0-9]+$")
            self.assertRegex(headers.get("x-hpd-delivery-attempt", ""), r"^[1-9][0-9]*$")
            timestamp = headers.get("x-hpd-timestamp", "")
            self.assertRegex(timestamp, r"^[0-9]+$")
            self.assertLess(abs(int(timestamp) - time.time()), 600)
            self.assertEqual(headers.get("x-hpd-signature-256"),
                             signature(SECRET, timestamp, body), "bad signature")
            if envelope["id"] not in seen:
                seen.add(envelope["id"])
                first_arrival.append((int(headers["x-hpd-event-sequence"]), envelope))
        sequences = [s for s, _ in first_arrival]
        self.assertEqual(sequences, sorted(sequences), "deliveries out of log order")
        for job, events in expected.items():
            ids = {e.json["id"] for e in events}
            arrived = [(s, env) for s, env in first_arrival if env["id"] in ids]
            self.assertEqual([s for s, _ in arrived], [e.sequence for e in events],
                             f"{job}: not every event, or not in order")
            self.assertEqual([env for _, env in arrived], [e.json for e in events],
                             f"{job}: a delivered body differs from the stored envelope")
        # Alice's webhook: her deployment's events only, unsigned.
        for path, headers, body, _ in receiver.received("/alice"):
            self.assertIn(json.loads(body)["id"], set(alice_ids),
                          "another user's event at a deployer's webhook")
            self.assertNotIn("x-hpd-signature-256", headers)

        # The delivery log: failed attempts (no answer), then deliveries.
        r = self.admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries", query={"limit": 1000})
        self.assertStatus(r, 200)
        records = sorted(r.json["deliveries"], key=lambda d: d["id"])
        self.assertEqual(records[0]["outcome"], "failed", records[:3])
        self.assertEqual(records[0]["httpStatus"], 0)
        self.assertTrue(records[0]["error"])
        self.assertEqual(records[0]["attempt"], 1)
        self.assertIn("delivered", [d["outcome"] for d in records])
        self.assertNotIn("dead_letter", [d["outcome"] for d in records])
        first = records[0]["eventId"]
        attempts = [d for d in records if d["eventId"] == first]
        self.assertEqual([d["attempt"] for d in attempts], list(range(1, len(attempts) + 1)))
        self.assertEqual(attempts[-1]["outcome"], "delivered")
        self.assertTrue(all(d["outcome"] == "failed" for d in attempts[:-1]))
        w = self.admin.get(f"/api/v1/webhooks/{hook['id']}").json
        self.assertGreaterEqual(w["failedAttempts"], len(attempts) - 1)
        self.assertGreaterEqual(w["delivered"], len(want))
        self.assertEqual(w["deadLettered"], 0)
        self.assertEqual(w["lastError"], "")
        # Deleting stops it; it is gone.
        self.assertStatus(self.alice.delete(f"/api/v1/webhooks/{alice_hook['id']}"), 204)
        self.assertStatus(self.alice.get(f"/api/v1/webhooks/{alice_hook['id']}"), 404,
                          "WebhookNotFound")


class DeadLetterTests:
    API_FLAGS = ("--webhook-max-attempts", "3", "--webhook-initial-backoff-ms", "200")

    def test_a_receiver_that_always_fails_ends_in_dead_letter(self):
        receiver = Receiver(serving.free_port(), status=500).start()
        try:
            r = self.admin.post("/api/v1/webhooks", {"url": receiver.url("/fail"),
                                                     "secret": SECRET,
                                                     "detailTypes": ["Webhook Test Event"]})
            self.assertStatus(r, 201)
            hook = r.json
            self.assertEqual(hook["detailTypes"], ["Webhook Test Event"])
            envelopes = [{"version": "0", "id": str(uuid.uuid4()),
                          "detail-type": "Webhook Test Event", "source": "test.webhooks",
                          "account": "123456789012", "time": "2026-01-01T00:00:00Z",
                          "region": "us-east-1", "resources": [], "detail": {"n": n}}
                         for n in range(2)]
            r = self.admin.post("/api/v1/events", {"entries": envelopes})
            self.assertStatus(r, 200)
            self.assertEqual(r.json, {"appended": 2, "duplicates": 0})
            r = self.admin.post("/api/v1/events", envelopes[0])  # one envelope, again
            self.assertStatus(r, 200)
            self.assertEqual(r.json, {"appended": 0, "duplicates": 1})

            def dead():
                w = self.admin.get(f"/api/v1/webhooks/{hook['id']}").json
                return w if w["deadLettered"] >= 2 else None
            w = wait_for(dead, 120, "two dead-lettered events")
            self.assertEqual(w["deadLettered"], 2)
            self.assertEqual(w["delivered"], 0)
            self.assertTrue(w["lastError"])
            r = self.admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries")
            self.assertStatus(r, 200)
            records = sorted(r.json["deliveries"], key=lambda d: d["id"])
            ids = [e["id"] for e in envelopes]
            self.assertEqual([(d["eventId"], d["attempt"], d["outcome"]) for d in records],
                             [(ids[0], 1, "failed"), (ids[0], 2, "failed"),
                              (ids[0], 3, "dead_letter"), (ids[1], 1, "failed"),
                              (ids[1], 2, "failed"), (ids[1], 3, "dead_letter")])
            self.assertTrue(all(d["httpStatus"] == 500 for d in records))
            self.assertTrue(all(d["error"] for d in records))
            # Paging the delivery log: newest first, `before` the last id.
            r = self.admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                               query={"limit": 2})
            self.assertEqual([d["id"] for d in r.json["deliveries"]],
                             [records[5]["id"], records[4]["id"]])
            r = self.admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                               query={"limit": 2, "before": records[4]["id"]})
            self.assertEqual([d["id"] for d in r.json["deliveries"]],
                             [records[3]["id"], records[2]["id"]])
            got = [(h.get("x-hpd-event-id"), h.get("x-hpd-delivery-attempt"))
                   for _, h, _, _ in receiver.received()]
            self.assertEqual(got, [(ids[0], "1"), (ids[0], "2"), (ids[0], "3"),
                                   (ids[1], "1"), (ids[1], "2"), (ids[1], "3")])
            r = self.admin.get("/metrics")
            self.assertStatus(r, 200)
            self.assertRegex(r.body.decode(),
                             r'(?m)^hpd_webhook_deliveries_total\{outcome="dead_letter"\} [2-9]')
        finally:
            receiver.stop()


both_topologies(WebhookDeliveryTests, globals())
both_topologies(DeadLetterTests, globals())

if __name__ == "__main__":
    unittest.main()
