"""The platform REST API end to end, in both topologies (embedded; split: backend + engine).

Every JSON answer is checked against docs/openapi.yaml (rest_api.Contract). Covered: a
deployment followed over SSE to its end; validate-only; cancel mid-deploy and its cleanup;
teardown; idempotency and duplicate jobIds; list filters and paging; the auth matrix and the
audit log; rate limiting; health, metrics and the served OpenAPI document; every documented route
exists.

Run by ctest with HPDEPLOY set; HPD_TOPOLOGY=embedded|split runs one topology only.
"""

import datetime
import json
import unittest

import yaml

from platform_base import (DEPLOYMENTS, STATES, PlatformCase, both_topologies, deployment_body,
                           new_job_id)
from rest_api import SseClient, contract, follow

OUTPUT_KEYS = ("stackId", "stackName", "clusterArn", "clusterName", "eksClusterName")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def has_guardrail_report(event):
    """A hpdeploy.hyperpod progress event carrying a guardrail report (checks with ids)."""
    if event.event != "progress":
        return False
    envelope = event.json
    if envelope["source"] != "hpdeploy.hyperpod":
        return False
    text = json.dumps(envelope["detail"])
    return "guardrail" in envelope["detail-type"].lower() or '"checks"' in text


class DeploymentTests:
    def test_a_deployment_followed_over_sse_to_its_end(self):
        job = new_job_id("follow")
        r = self.alice.post(DEPLOYMENTS, deployment_body(job))
        self.assertStatus(r, 202)
        d = r.json
        self.assertEqual(r.header("location"), f"{DEPLOYMENTS}/{job}")
        self.assertEqual(d["jobId"], job)
        self.assertEqual(d["status"], "RUNNING")
        self.assertEqual(d["phase"], "DEPLOYING")
        self.assertEqual(d["requestedBy"], "alice")
        self.assertEqual(d["request"]["requestedBy"], "alice")
        self.assertEqual(d["request"]["config"]["region"], "us-west-2")
        self.assertEqual(d["links"]["self"], f"{DEPLOYMENTS}/{job}")
        arn = d["executionArn"]

        events = self.events(job, api=self.alice)
        self.assertEqual(events[-1].event, "end", events[-3:])
        self.assertEqual(events[-1].data, "{}")
        body = events[:-1]
        sequences = [e.sequence for e in body]
        self.assertEqual(sequences, sorted(set(sequences)), "ids must increase strictly")
        statuses = [e.json["detail"]["status"] for e in body
                    if e.event == "status" and e.json["detail"]["executionArn"] == arn]
        self.assertEqual(statuses, ["RUNNING", "SUCCEEDED"], [e for e in body
                                                              if e.event == "status"])
        entered = [e.json["detail"]["state"] for e in body if e.event == "progress"
                   and e.json["detail-type"] == "Execution State Entered"
                   and e.json["detail"].get("executionArn") == arn]
        for state in STATES:
            self.assertIn(state, entered)
        self.assertTrue(any(has_guardrail_report(e) for e in body),
                        "no hpdeploy.hyperpod guardrail report event: "
                        f"{[e.json['detail-type'] for e in body if e.event == 'progress']}")
        logs = [e for e in body if e.event == "log"]
        self.assertTrue(logs, "no log events")
        self.assertTrue(all(e.json["detail"]["lines"] for e in logs))
        for e in body:
            self.assertIn(e.event, ("status", "progress", "log"))
            self.assertEqual(e.json["version"], "0")

        d = self.wait_phase(job, "SUCCEEDED", timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertIsNone(d["currentState"])
        self.assertIsNotNone(d["stoppedAt"])
        self.assertTrue(d["guardrails"]["passed"])
        for key in OUTPUT_KEYS:
            self.assertTrue(d["outputs"].get(key), f"outputs.{key}: {d['outputs']}")
        self.assertIsNone(d["failure"])

        # The same deployment through history and logs.
        r = self.alice.get(f"{DEPLOYMENTS}/{job}/history", query={"limit": 1000})
        self.assertStatus(r, 200)
        types = [e["type"] for e in r.json["events"]]
        self.assertEqual(types[0], "ExecutionStarted")
        self.assertIn("ExecutionSucceeded", types)
        r = self.alice.get(f"{DEPLOYMENTS}/{job}/history", query={"limit": 2, "reverse": "true"})
        self.assertStatus(r, 200)
        self.assertEqual(r.json["events"][0]["type"], "ExecutionSucceeded")
        self.assertTrue(r.json["nextToken"])
        # Paged logs: the lines the log events carried, in order, each once.
        lines, after = [], 0
        for _ in range(1000):
            r = self.alice.get(f"{DEPLOYMENTS}/{job}/logs", query={"after": after, "limit": 50})
            self.assertStatus(r, 200)
            if not r.json["lines"]:
                break
            lines += [line["message"] for line in r.json["lines"]]
            self.assertGreaterEqual(r.json["next"], after)
            after = r.json["next"]
        streamed = [line["message"] for e in logs for line in e.json["detail"]["lines"]]
        self.assertEqual(lines, streamed)
        # The log stream of an ended deployment: its lines, then end.
        stream = follow(self.alice, f"{DEPLOYMENTS}/{job}/logs?follow=true", timeout=60)
        self.assertEqual(stream[-1].event, "end")
        self.assertTrue(all(e.event == "log" for e in stream[:-1]))
        self.assertEqual([e.json["message"] for e in stream[:-1]], streamed)

    def test_sse_stream_headers_and_preamble(self):
        job = self.create()["jobId"]
        stream = SseClient(self.alice, f"{DEPLOYMENTS}/{job}/events")
        try:
            self.assertEqual(stream.status, 200)
            self.assertTrue(stream.headers["content-type"].startswith("text/event-stream"))
            self.assertEqual(stream.headers.get("cache-control"), "no-cache")
            self.assertEqual(stream.headers.get("x-accel-buffering"), "no")
            first = next(iter(stream))
            self.assertEqual(stream.retry, 1000)
            self.assertIn("ok", stream.comments)
            self.assertEqual(first.event, "status")
        finally:
            stream.close()
        self.events(job)  # to its end: leaves nothing running for later tests

    def test_validate_only_starts_nothing(self):
        before = self.executions()
        job = new_job_id("validate")
        r = self.alice.post(f"{DEPLOYMENTS}/validate", deployment_body(job))
        self.assertStatus(r, 200)
        report = r.json
        self.assertTrue(report["valid"])
        self.assertEqual(report["jobId"], job)
        self.assertTrue(report["names"])
        self.assertTrue(report["guardrails"]["passed"])
        self.assertEqual(report["request"]["requestedBy"], "alice")
        # A request that fails its guardrails is still a 200 report, valid false.
        r = self.alice.post(f"{DEPLOYMENTS}/validate",
                            deployment_body(job, preset="no-such-preset"))
        self.assertStatus(r, 200)
        self.assertFalse(r.json["valid"])
        failed = [c["id"] for c in r.json["guardrails"]["checks"] if c["status"] == "FAIL"]
        self.assertIn("preset.known", failed)
        # Nothing started.
        self.assertStatus(self.admin.get(f"{DEPLOYMENTS}/{job}"), 404, "DeploymentNotFound")
        self.assertNotIn(job, [d["jobId"] for d in self.list_all()])
        self.assertEqual(self.executions(), before)
        # Viewers may not validate.
        self.assertStatus(self.viewer.post(f"{DEPLOYMENTS}/validate", deployment_body()), 403,
                          "Forbidden")

    def test_cancel_mid_deploy_cleans_up(self):
        job = self.create(body=deployment_body(new_job_id("cancel")))["jobId"]
        seen = {"entered": False}

        def infraforge_running(e):
            if (e.event == "progress" and e.json["detail-type"] == "Execution State Entered"
                    and e.json["detail"].get("state") == "RunInfraForgeTask"):
                seen["entered"] = True
            # Once InfraForge has printed something it has started creating the stack.
            return seen["entered"] and e.event == "log"

        first = follow(self.alice, f"{DEPLOYMENTS}/{job}/events", on_event=infraforge_running)
        self.assertNotEqual(first[-1].event, "end", "the deployment ended before it was cancelled")
        r = self.alice.post(f"{DEPLOYMENTS}/{job}/cancel")
        self.assertStatus(r, 202)
        self.assertIn(r.json["phase"], ("CANCELLING", "CANCELLED"))
        self.assertEqual(r.json["cancellation"]["requestedBy"], "alice")

        # The stream goes on from where it was left to the end (after the cleanup).
        rest = self.events(job, api=self.alice, last_event_id=first[-1].id)
        self.assertEqual(rest[-1].event, "end")
        self.assertGreater(rest[0].sequence, first[-1].sequence)
        d = self.wait_phase(job, "CANCELLED")
        self.assertEqual(d["status"], "ABORTED")
        self.assertIsNotNone(d["cancellation"]["cleanup"], d["cancellation"])
        self.assertEqual(self.resources(job), [])
        aborted = [e for e in first + rest if e.event == "status"
                   and e.json["detail"]["executionArn"] == d["executionArn"]
                   and e.json["detail"]["status"] == "ABORTED"]
        self.assertEqual(len(aborted), 1)
        # Ended: no second cancel, no teardown.
        self.assertStatus(self.alice.post(f"{DEPLOYMENTS}/{job}/cancel"), 409,
                          "DeploymentNotRunning")
        self.assertStatus(self.alice.post(f"{DEPLOYMENTS}/{job}/teardown"), 409,
                          "TeardownNotAllowed")

    def test_teardown_of_a_succeeded_deployment(self):
        job = self.create(api=self.bob)["jobId"]
        self.assertStatus(self.bob.post(f"{DEPLOYMENTS}/{job}/teardown"), 409,
                          "TeardownNotAllowed")  # still running
        self.events(job, api=self.bob)
        d = self.wait_phase(job, "SUCCEEDED")
        self.assertTrue(self.resources(job), "a succeeded deployment has resources")
        r = self.bob.post(f"{DEPLOYMENTS}/{job}/teardown")
        self.assertStatus(r, 202)
        self.assertEqual(r.json["phase"], "TEARING_DOWN")
        self.assertEqual(r.json["teardown"]["attempt"], 1)
        self.assertEqual(r.json["teardown"]["requestedBy"], "bob")
        self.assertStatus(self.bob.post(f"{DEPLOYMENTS}/{job}/teardown"), 409,
                          "TeardownNotAllowed")  # one is running
        # The deployment's stream covers the teardown and ends after it.
        rest = self.events(job, api=self.bob)
        self.assertEqual(rest[-1].event, "end")
        d = self.wait_phase(job, "TORN_DOWN")
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertEqual(d["teardown"]["status"], "SUCCEEDED")
        self.assertIsNotNone(d["teardown"]["stoppedAt"])
        self.assertEqual(self.resources(job), [])
        self.assertStatus(self.bob.post(f"{DEPLOYMENTS}/{job}/teardown"), 409,
                          "TeardownNotAllowed")

    def test_idempotency_key_and_duplicate_job_ids(self):
        job = new_job_id("idem")
        body = deployment_body(job)
        key = {"Idempotency-Key": "create-" + job}
        first = self.alice.post(DEPLOYMENTS, body, headers=key)
        self.assertStatus(first, 202)
        again = self.alice.post(DEPLOYMENTS, body, headers=key)
        self.assertStatus(again, 200)
        self.assertEqual(again.json["jobId"], job)
        self.assertEqual(again.json["executionArn"], first.json["executionArn"])
        other = self.alice.post(DEPLOYMENTS, deployment_body(job, name="other"), headers=key)
        self.assertStatus(other, 409, "IdempotencyKeyReused")
        self.assertStatus(self.alice.post(DEPLOYMENTS, body), 409, "JobAlreadyExists")
        self.assertStatus(self.bob.post(DEPLOYMENTS, body), 409, "JobAlreadyExists")
        # Without a jobId, a new UUID.
        d = self.create(body={"config": {"region": "us-west-2"}})
        self.assertRegex(d["jobId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                     r"[0-9a-f]{12}$")
        self.assertEqual(d["request"]["timeoutSeconds"], 3600)
        for j in (job, d["jobId"]):
            self.assertStatus(self.alice.post(f"{DEPLOYMENTS}/{j}/cancel"), 202)
        for j in (job, d["jobId"]):
            self.wait_phase(j, "CANCELLED")

    def test_list_filters_and_paging(self):
        mine = {}
        for api in (self.alice, self.alice, self.bob):
            d = self.create(api=api)
            mine[d["jobId"]] = d
        cancelled = list(mine)[1]
        self.assertStatus(self.alice.post(f"{DEPLOYMENTS}/{cancelled}/cancel"), 202)
        times = [parse_time(d["requestedAt"]) for d in mine.values()]
        after = rfc3339(min(times) - datetime.timedelta(seconds=1))
        before = rfc3339(max(times) + datetime.timedelta(seconds=1))
        self.wait_phase(cancelled, "CANCELLED")

        in_window = self.list_all(createdAfter=after, createdBefore=before)
        ids = [d["jobId"] for d in in_window]
        self.assertTrue(set(mine) <= set(ids), (sorted(mine), ids))
        self.assertEqual(len(ids), len(set(ids)))
        for d in in_window:
            self.assertGreater(parse_time(d["requestedAt"]), parse_time(after))
            self.assertLess(parse_time(d["requestedAt"]), parse_time(before))
        stamps = [parse_time(d["requestedAt"]) for d in in_window]
        self.assertEqual(stamps, sorted(stamps, reverse=True), "newest first")
        # Nothing of these before their time.
        early = self.list_all(createdBefore=rfc3339(min(times) - datetime.timedelta(seconds=1)))
        self.assertFalse(set(mine) & {d["jobId"] for d in early})
        # Paging one at a time covers the same deployments, each once.
        paged, token, pages = [], None, 0
        while True:
            q = {"limit": 1, "createdAfter": after, "createdBefore": before}
            if token:
                q["nextToken"] = token
            r = self.admin.get(DEPLOYMENTS, query=q)
            self.assertStatus(r, 200)
            self.assertLessEqual(len(r.json["deployments"]), 1)
            paged += [d["jobId"] for d in r.json["deployments"]]
            token = r.json["nextToken"]
            pages += 1
            self.assertLess(pages, 500)
            if not token:
                break
        self.assertEqual(paged, ids)
        # Status filters.
        aborted = self.list_all(status="ABORTED", createdAfter=after)
        self.assertIn(cancelled, [d["jobId"] for d in aborted])
        self.assertTrue(all(d["status"] == "ABORTED" for d in aborted))
        both = self.list_all(status="ABORTED,RUNNING,SUCCEEDED", createdAfter=after)
        self.assertTrue(set(mine) <= {d["jobId"] for d in both})
        self.assertTrue(all(d["status"] in ("ABORTED", "RUNNING", "SUCCEEDED") for d in both))
        # requestedBy.
        bobs = self.list_all(requestedBy="bob", createdAfter=after)
        self.assertTrue(bobs)
        self.assertTrue(all(d["requestedBy"] == "bob" for d in bobs))
        alices = self.list_all(api=self.alice, createdAfter=after)
        self.assertEqual({d["requestedBy"] for d in alices}, {"alice"})
        self.assertTrue({j for j, d in mine.items() if d["requestedBy"] == "alice"}
                        <= {d["jobId"] for d in alices})
        self.assertEqual(
            [d["jobId"] for d in self.list_all(api=self.alice, requestedBy="alice",
                                               createdAfter=after)],
            [d["jobId"] for d in alices])
        viewer_sees = self.list_all(api=self.viewer, createdAfter=after, createdBefore=before)
        self.assertEqual({d["jobId"] for d in viewer_sees}, set(ids))
        for job in mine:
            if job != cancelled:
                self.events(job)


class AuthTests:
    def test_auth_matrix(self):
        bobs = self.create(api=self.bob)["jobId"]
        path = f"{DEPLOYMENTS}/{bobs}"
        r = self.anonymous.get(DEPLOYMENTS)
        self.assertStatus(r, 401, "Unauthenticated")
        self.assertIn('Bearer realm="hpdeploy"', r.header("www-authenticate") or "")
        for bad in ("hpd_" + "A" * 43, "not-a-token", ""):
            r = self.anonymous.get(DEPLOYMENTS, headers={"Authorization": "Bearer " + bad})
            self.assertStatus(r, 401, "Unauthenticated")
            self.assertIn("Bearer", r.header("www-authenticate") or "")
        r = self.anonymous.get(DEPLOYMENTS, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertStatus(r, 401, "Unauthenticated")
        # viewer: reads, never writes.
        self.assertStatus(self.viewer.get(path), 200)
        self.assertStatus(self.viewer.post(DEPLOYMENTS, deployment_body()), 403, "Forbidden")
        self.assertStatus(self.viewer.post(f"{path}/cancel"), 403, "Forbidden")
        self.assertStatus(self.viewer.post(f"{path}/teardown"), 403, "Forbidden")
        self.assertStatus(self.viewer.get("/api/v1/webhooks"), 403, "Forbidden")
        self.assertStatus(self.viewer.get("/api/v1/audit"), 403, "Forbidden")
        # a deployer and another's deployment: as if it did not exist.
        for p in (path, f"{path}/history", f"{path}/logs", f"{path}/events"):
            self.assertStatus(self.alice.get(p), 404, "DeploymentNotFound")
        self.assertStatus(self.alice.post(f"{path}/cancel"), 404, "DeploymentNotFound")
        self.assertStatus(self.alice.post(f"{path}/teardown"), 404, "DeploymentNotFound")
        r = self.alice.get(DEPLOYMENTS, query={"requestedBy": "bob"})
        self.assertStatus(r, 403, "Forbidden")
        self.assertNotIn(bobs, [d["jobId"] for d in self.list_all(api=self.alice)])
        self.assertStatus(self.alice.get("/api/v1/audit"), 403, "Forbidden")
        self.assertStatus(self.alice.post("/api/v1/events", {"entries": []}), 403, "Forbidden")
        # admin: everything.
        self.assertStatus(self.admin.get(path), 200)
        self.assertIn(bobs, [d["jobId"] for d in self.list_all(api=self.admin)])
        self.assertStatus(self.admin.post(f"{path}/cancel"), 202)
        self.wait_phase(bobs, "CANCELLED")
        # The audit log: every mutation, refused ones included, with who did it.
        entries = self.audit_entries()
        def find(**want):
            return [e for e in entries if all(e[k] == v for k, v in want.items())]
        self.assertTrue(find(action="deployment.create", actor="bob", target=bobs, status=202,
                             errorCode=""), entries[:10])
        self.assertTrue(find(action="deployment.create", actor="viewer", role="viewer",
                             status=403, errorCode="Forbidden"))
        self.assertTrue(find(action="deployment.cancel", actor="alice", target=bobs, status=404,
                             errorCode="DeploymentNotFound"))
        self.assertTrue(find(action="deployment.cancel", actor="admin", role="admin",
                             target=bobs, status=202))
        self.assertTrue(find(action="events.ingest", actor="alice", status=403))
        for e in entries:
            self.assertTrue(e["requestId"])
            self.assertTrue(e["remoteAddress"])
        text = json.dumps(entries)
        for token in self.tokens.values():
            self.assertNotIn(token, text, "a token in the audit log")

    def audit_entries(self):
        out, token = [], None
        for _ in range(100):
            q = {"limit": 100}
            if token:
                q["nextToken"] = token
            r = self.admin.get("/api/v1/audit", query=q)
            self.assertStatus(r, 200)
            out += r.json["entries"]
            token = r.json["nextToken"]
            if not token:
                return out
        self.fail("audit log: too many pages")

    def test_health_metrics_and_the_served_document(self):
        r = self.anonymous.get("/healthz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "ok")
        r = self.anonymous.get("/readyz")
        self.assertStatus(r, 200)
        self.assertEqual(r.json["status"], "ready")
        self.assertEqual(r.json["backend"].split()[0],
                         "embedded" if self.TOPOLOGY == "embedded" else "stepfunctions")
        self.assertStatus(self.anonymous.get("/metrics"), 401, "Unauthenticated")
        self.create()  # something to count
        r = self.viewer.get("/metrics")
        self.assertStatus(r, 200)
        self.assertTrue(r.header("content-type").startswith("text/plain"))
        self.assertIn("version=0.0.4", r.header("content-type"))
        text = r.body.decode()
        for name in ("hpd_deployments", "hpd_state_duration_seconds", "hpd_task_failures_total",
                     "hpd_http_requests_total", "hpd_http_request_duration_seconds",
                     "hpd_sse_clients", "hpd_webhook_deliveries_total", "hpd_events_total",
                     "hpd_rate_limited_total"):
            self.assertRegex(text, rf"(?m)^# TYPE {name} ", f"metric {name} missing")
        self.assertRegex(text, r'(?m)^hpd_deployments\{status="RUNNING"\} ')
        self.assertIn('route="/api/v1/hyperpod/deployments"', text)
        self.assertNotRegex(text, r'route="/api/v1/hyperpod/deployments/[a-z]+-[0-9a-f]{12}"',
                            "a raw path as a route label")
        r = self.viewer.get("/api/v1/openapi.yaml")
        self.assertStatus(r, 200)
        self.assertIn("yaml", r.header("content-type"))
        served = yaml.safe_load(r.body)
        self.assertEqual(served["openapi"], "3.0.3")
        self.assertEqual(served, contract().doc, "the built-in document differs from docs/")

    def test_every_documented_route_exists(self):
        for method, template, _, operation in contract().routes:
            path = (template.replace("{jobId}", "no-such-job")
                    .replace("{id}", "wh-0000000000000000"))
            if path.endswith("/events") and method == "GET" and "{" not in template:
                stream = SseClient(self.admin, path)  # the global stream never ends
                stream.close()
                self.assertEqual(stream.status, 200, f"{method} {template}")
                continue
            body = {} if method == "POST" else None
            r = self.admin.call(method, path, body=body)
            code = r.json["error"]["code"] if r.status >= 400 and r.body else None
            self.assertNotEqual(code, "NotFound", f"{method} {template}: {r.describe()}")
            self.assertNotIn(r.status, (405, 501), f"{method} {template}: {r.describe()}")

    def test_method_not_allowed_lists_the_methods(self):
        r = self.admin.call("PUT", DEPLOYMENTS, body={})
        self.assertStatus(r, 405, "MethodNotAllowed")
        allowed = {m.strip() for m in r.header("allow").split(",")}
        self.assertEqual(allowed - {"HEAD", "OPTIONS"}, {"GET", "POST"})


class RateLimitTests:
    API_FLAGS = ("--rate-limit-per-second", "1", "--rate-limit-burst", "3")

    def test_over_the_burst_is_429_with_retry_after(self):
        answers = [self.viewer.get("/api/v1/hyperpod/regions") for _ in range(10)]
        limited = [r for r in answers if r.status == 429]
        self.assertTrue(limited, [r.status for r in answers])
        self.assertTrue(all(r.status in (200, 429) for r in answers))
        self.assertEqual(answers[0].status, 200)
        for r in limited:
            self.assertEqual(r.error["code"], "RateLimited")
            self.assertRegex(r.header("retry-after") or "", r"^[1-9][0-9]*$")
        # Per token: another token is not limited by the first one's use.
        self.assertStatus(self.alice.get("/api/v1/hyperpod/regions"), 200)
        # The health endpoints are not rate limited (no token).
        for _ in range(10):
            self.assertStatus(self.anonymous.get("/healthz"), 200)
        # Counted.
        r = self.admin.get("/metrics")
        if r.status == 200:
            counts = [float(line.split()[-1]) for line in r.body.decode().splitlines()
                      if line.startswith("hpd_rate_limited_total")]
            self.assertTrue(counts and counts[0] >= len(limited), counts)


both_topologies(DeploymentTests, globals())
both_topologies(AuthTests, globals())
both_topologies(RateLimitTests, globals())

if __name__ == "__main__":
    unittest.main()
