"""Bad input to the platform REST API: a matrix of requests that must each be refused with the
right status and error code, an error body that fits the Error schema of docs/openapi.yaml, the
right `fields` path where one is named, and no execution started (the deployment list and the
engine's ListExecutions are empty before and after every case). In both topologies.

Each case prints as "case NAME" in its failure message. Run by ctest with HPDEPLOY set.
"""

import json
import unittest

from platform_base import DEPLOYMENTS, PlatformCase, both_topologies
from rest_api import contract

GOOD = {"config": {"preset": "small", "region": "us-west-2"}}
JOB = DEPLOYMENTS + "/job-1"


def body(**top):
    b = json.loads(json.dumps(GOOD))
    for k, v in top.items():
        b[k] = v
    return b


def config(**members):
    b = body()
    for k, v in members.items():
        if v is KeyError:
            del b["config"][k]
        else:
            b["config"][k] = v
    return b


def case(name, status, code, method="POST", path=DEPLOYMENTS, json_body=None, raw=None,
         headers=None, field=None, check=None, content_type="application/json", via_raw=False):
    return dict(name=name, status=status, code=code, method=method, path=path,
                json_body=json_body, raw=raw, headers=headers or {}, field=field, check=check,
                content_type=content_type, via_raw=via_raw)


def failed_check(check_id):
    """For a GuardrailViolation: the report names `check_id` as FAILed."""
    def verify(test, r):
        checks = r.error["details"]["checks"]
        failed = [c["id"] for c in checks if c["status"] == "FAIL"]
        test.assertIn(check_id, failed, r.describe())
        test.assertFalse(r.error["details"]["passed"])
    return verify


def allows(*methods):
    def verify(test, r):
        allowed = {m.strip() for m in (r.header("allow") or "").split(",")}
        test.assertTrue(set(methods) <= allowed, f"Allow: {r.header('allow')!r}")
    return verify


MIB = 1024 * 1024

CASES = [
    # Not JSON, or not an object.
    case("malformed JSON", 400, "InvalidRequest", raw=b'{"config": {"region": '),
    case("trailing garbage", 400, "InvalidRequest", raw=json.dumps(GOOD).encode() + b" x"),
    case("empty body", 400, "InvalidRequest", raw=b""),
    case("array body", 400, "InvalidRequest", json_body=[GOOD]),
    case("string body", 400, "InvalidRequest", json_body="deploy"),
    case("null body", 400, "InvalidRequest", json_body=None, raw=b"null"),
    case("invalid UTF-8", 400, "InvalidRequest",
         raw=b'{"config": {"region": "us-west-2", "name": "\xff\xfe"}}'),
    case("deeply nested", 400, "InvalidRequest", raw=b'{"config":' + b"[" * 5000 +
         b"]" * 5000 + b"}"),
    case("number out of range", 400, "InvalidRequest",
         raw=b'{"timeoutSeconds": 1e400, "config": {"region": "us-west-2"}}'),
    # Wrong types at several paths.
    case("config a string", 400, "InvalidRequest", json_body=body(config="small"),
         field="config"),
    case("config.region a number", 400, "InvalidRequest", json_body=config(region=1),
         field="config.region"),
    case("config.preset a number", 400, "InvalidRequest", json_body=config(preset=3),
         field="config.preset"),
    case("config.name a boolean", 400, "InvalidRequest", json_body=config(name=True),
         field="config.name"),
    case("config.overrides an array", 400, "InvalidRequest", json_body=config(overrides=[1]),
         field="config.overrides"),
    case("override value an object", 400, "InvalidRequest",
         json_body=config(overrides={"fsx.storageGiB": {"v": 1}}),
         field="config.overrides.fsx.storageGiB"),
    case("timeoutSeconds a string", 400, "InvalidRequest", json_body=body(timeoutSeconds="3600"),
         field="timeoutSeconds"),
    case("timeoutSeconds fractional", 400, "InvalidRequest",
         json_body=body(timeoutSeconds=3600.5), field="timeoutSeconds"),
    case("timeoutSeconds below 1800", 400, "InvalidRequest", json_body=body(timeoutSeconds=1799),
         field="timeoutSeconds"),
    case("timeoutSeconds above 86400", 400, "InvalidRequest",
         json_body=body(timeoutSeconds=86401), field="timeoutSeconds"),
    case("jobId a number", 400, "InvalidRequest", json_body=body(jobId=12), field="jobId"),
    case("jobId leading dash", 400, "InvalidRequest", json_body=body(jobId="-abc"),
         field="jobId"),
    case("jobId 65 characters", 400, "InvalidRequest", json_body=body(jobId="a" * 65),
         field="jobId"),
    case("jobId with underscore", 400, "InvalidRequest", json_body=body(jobId="a_b"),
         field="jobId"),
    case("jobId with slash", 400, "InvalidRequest", json_body=body(jobId="a/../b"),
         field="jobId"),
    case("guardrails a list", 400, "InvalidRequest", json_body=body(guardrails=[]),
         field="guardrails"),
    case("guardrails.quotaChecks a string", 400, "InvalidRequest",
         json_body=body(guardrails={"quotaChecks": "yes"}), field="guardrails.quotaChecks"),
    case("config missing", 400, "InvalidRequest", json_body={"jobId": "job-1"}, field="config"),
    case("config.region missing", 400, "InvalidRequest", json_body=config(region=KeyError),
         field="config.region"),
    # Unknown and forbidden members.
    case("unknown top-level member", 400, "InvalidRequest", json_body=body(priority=1),
         field="priority"),
    case("unknown config member", 400, "InvalidRequest", json_body=config(foo="x"),
         field="config.foo"),
    case("unknown guardrails member", 400, "InvalidRequest",
         json_body=body(guardrails={"quotaChecks": True, "bar": 1}), field="guardrails.bar"),
    case("requestedBy in body", 400, "InvalidRequest", json_body=body(requestedBy="mallory"),
         field="requestedBy"),
    case("requestedAt in body", 400, "InvalidRequest",
         json_body=body(requestedAt="2025-01-01T00:00:00Z"), field="requestedAt"),
    case("artifacts in body", 400, "InvalidRequest",
         json_body=body(artifacts={"configBucket": "b", "parameterPrefix": "/p"}),
         field="artifacts"),
    case("validate: unknown member", 400, "InvalidRequest", path=DEPLOYMENTS + "/validate",
         json_body=config(foo=1), field="config.foo"),
    # Values the guardrails refuse: 422 with the report, nothing started.
    case("unknown preset", 422, "GuardrailViolation", json_body=config(preset="gigantic"),
         check=failed_check("preset.known")),
    case("unknown region", 422, "GuardrailViolation", json_body=config(region="mars-north-1"),
         check=failed_check("region.allowed")),
    case("invalid name", 422, "GuardrailViolation", json_body=config(name="bad_name!"),
         check=failed_check("name.cluster")),
    case("override out of bounds", 422, "GuardrailViolation",
         json_body=config(overrides={"fsx.storageGiB": 1000000000}),
         check=failed_check("overrides.bounded")),
    case("unknown override key", 422, "GuardrailViolation",
         json_body=config(overrides={"no.such.key": 1}), check=failed_check("overrides.bounded")),
    # Headers.
    case("Idempotency-Key too long", 400, "InvalidRequest", json_body=GOOD,
         headers={"Idempotency-Key": "k" * 256}, field="Idempotency-Key"),
    case("Idempotency-Key empty", 400, "InvalidRequest", json_body=GOOD,
         headers={"Idempotency-Key": ""}, field="Idempotency-Key", via_raw=True),
    case("Idempotency-Key not ASCII", 400, "InvalidRequest", json_body=GOOD,
         headers={"Idempotency-Key": "cl\xe9"}, field="Idempotency-Key", via_raw=True),
    case("Content-Type text/plain", 415, "UnsupportedMediaType", json_body=GOOD,
         content_type="text/plain"),
    case("Content-Type form", 415, "UnsupportedMediaType", json_body=GOOD,
         content_type="application/x-www-form-urlencoded"),
    case("no Content-Type", 415, "UnsupportedMediaType", json_body=GOOD, content_type=None,
         via_raw=True),
    case("body of 1 MiB + 1", 413, "PayloadTooLarge", raw=b"{" + b" " * (MIB - 1) + b"}",
         via_raw=True),
    case("body of exactly 1 MiB is read (and refused for its member)", 400, "InvalidRequest",
         raw=(lambda pad: json.dumps(body(pad=pad)).encode())(
             "x" * (MIB - len(json.dumps(body(pad="")).encode()))),
         via_raw=True, field="pad"),
    case("headers over 16 KiB", 431, "HeaderTooLarge", json_body=GOOD,
         headers={"X-Padding": "p" * (17 * 1024)}, via_raw=True),
    case("webhook: ftp URL", 400, "InvalidRequest", path="/api/v1/webhooks",
         json_body={"url": "ftp://example.com/x"}, field="url"),
    case("webhook: short secret", 400, "InvalidRequest", path="/api/v1/webhooks",
         json_body={"url": "http://127.0.0.1:9/x", "secret": "short"}, field="secret"),
    case("webhook: unknown member", 400, "InvalidRequest", path="/api/v1/webhooks",
         json_body={"url": "http://127.0.0.1:9/x", "retries": 3}, field="retries"),
    case("ingest: envelope without id", 400, "InvalidRequest", path="/api/v1/events",
         json_body={"source": "x", "detail-type": "y", "detail": {}}),
    # Path tricks.
    case("jobId %2e%2e", 400, "InvalidRequest", method="GET", path=DEPLOYMENTS + "/%2e%2e"),
    case("jobId .. literal", 400, "InvalidRequest", method="GET", path=DEPLOYMENTS + "/..",
         via_raw=True),
    case("cancel %2e%2e", 400, "InvalidRequest", path=DEPLOYMENTS + "/%2e%2e/cancel",
         json_body={}),
    case("jobId with %2F", 400, "InvalidRequest", method="GET", path=DEPLOYMENTS + "/a%2Fb"),
    case("teardown jobId with %2F", 400, "InvalidRequest",
         path=DEPLOYMENTS + "/a%2F..%2Fb/teardown", json_body={}),
    case("jobId with %00", 400, "InvalidRequest", method="GET", path=DEPLOYMENTS + "/abc%00def"),
    case("jobId with %5C", 400, "InvalidRequest", method="GET", path=DEPLOYMENTS + "/abc%5Cdef"),
    case("jobId with %0A", 400, "InvalidRequest", method="GET", path=DEPLOYMENTS + "/abc%0Adef"),
    case("jobId with underscore in URL", 400, "InvalidRequest", method="GET",
         path=DEPLOYMENTS + "/abc_def", field="jobId"),
    case("jobId too long in URL", 400, "InvalidRequest", method="GET",
         path=DEPLOYMENTS + "/" + "a" * 65 + "/history", field="jobId"),
    case("double slash", (400, 404), ("InvalidRequest", "NotFound"), method="GET",
         path="/api/v1//hyperpod/deployments"),
    case("double slash before jobId", (400, 404), ("InvalidRequest", "NotFound"),
         method="POST", path=DEPLOYMENTS + "//job-1/cancel", json_body={}),
    # Query parameters.
    case("limit=0", 400, "InvalidParameter", method="GET", path=DEPLOYMENTS + "?limit=0",
         field="limit"),
    case("limit=abc", 400, "InvalidParameter", method="GET", path=DEPLOYMENTS + "?limit=abc",
         field="limit"),
    case("limit=101", 400, "InvalidParameter", method="GET", path=DEPLOYMENTS + "?limit=101",
         field="limit"),
    case("limit=-1", 400, "InvalidParameter", method="GET", path=DEPLOYMENTS + "?limit=-1",
         field="limit"),
    case("status=BOGUS", 400, "InvalidParameter", method="GET",
         path=DEPLOYMENTS + "?status=BOGUS", field="status"),
    case("status=RUNNING,,", 400, "InvalidParameter", method="GET",
         path=DEPLOYMENTS + "?status=RUNNING,nope", field="status"),
    case("createdAfter=yesterday", 400, "InvalidParameter", method="GET",
         path=DEPLOYMENTS + "?createdAfter=yesterday", field="createdAfter"),
    case("createdBefore month 13", 400, "InvalidParameter", method="GET",
         path=DEPLOYMENTS + "?createdBefore=2025-13-01T00:00:00Z", field="createdBefore"),
    case("nextToken garbage", 400, "InvalidParameter", method="GET",
         path=DEPLOYMENTS + "?nextToken=%21%21garbage", field="nextToken"),
    case("unknown parameter", 400, "InvalidParameter", method="GET",
         path=DEPLOYMENTS + "?color=blue", field="color"),
    case("history limit=1001", 400, "InvalidParameter", method="GET",
         path=JOB + "/history?limit=1001", field="limit"),
    case("history reverse=maybe", 400, "InvalidParameter", method="GET",
         path=JOB + "/history?reverse=maybe", field="reverse"),
    case("logs after=-1", 400, "InvalidParameter", method="GET", path=JOB + "/logs?after=-1",
         field="after"),
    case("events after=abc", 400, "InvalidParameter", method="GET",
         path="/api/v1/hyperpod/events?after=abc", field="after"),
    case("audit limit=0", 400, "InvalidParameter", method="GET", path="/api/v1/audit?limit=0",
         field="limit"),
    # Routes and methods.
    case("unknown route", 404, "NotFound", method="GET", path="/api/v1/nope"),
    case("unknown version", 404, "NotFound", method="GET", path="/api/v2/hyperpod/deployments"),
    case("unknown sub-resource", 404, "NotFound", method="GET", path=JOB + "/secrets"),
    case("DELETE deployments", 405, "MethodNotAllowed", method="DELETE", path=DEPLOYMENTS,
         check=allows("GET", "POST")),
    case("PUT cancel", 405, "MethodNotAllowed", method="PUT", path=JOB + "/cancel",
         json_body={}, check=allows("POST")),
    case("GET cancel", 405, "MethodNotAllowed", method="GET", path=JOB + "/cancel",
         check=allows("POST")),
    case("POST healthz", 405, "MethodNotAllowed", method="POST", path="/healthz",
         json_body={}, check=allows("GET")),
    case("PATCH webhooks", 405, "MethodNotAllowed", method="PATCH", path="/api/v1/webhooks",
         json_body={}, check=allows("GET", "POST")),
]


class BadInputTests:
    def test_matrix(self):
        self.assertGreaterEqual(len(CASES), 45)
        names = [c["name"] for c in CASES]
        self.assertEqual(len(names), len(set(names)))
        self.assertEqual(self.deployment_ids(), [])
        self.assertEqual(self.executions(), [])
        for c in CASES:
            with self.subTest(case=c["name"]):
                self.run_case(c)
        # The refused mutations are audited (after authentication), without their bodies.
        r = self.admin.get("/api/v1/audit", query={"limit": 100})
        self.assertStatus(r, 200)
        entries = r.json["entries"]
        self.assertTrue([e for e in entries if e["action"] == "deployment.create"
                         and e["status"] == 400 and e["errorCode"] == "InvalidRequest"
                         and e["actor"] == "alice"], entries[:5])
        self.assertNotIn("mallory", json.dumps(entries))

    def run_case(self, c):
        api = self.admin if c["path"].startswith("/api/v1/audit") or \
            c["path"].startswith("/api/v1/events") else self.alice
        headers = dict(c["headers"])
        if c["json_body"] is not None:
            data = json.dumps(c["json_body"]).encode()
        else:
            data = c["raw"]
        if c["via_raw"]:
            if data is not None and c["content_type"]:
                headers["Content-Type"] = c["content_type"]
            h = {k: (v.encode("utf-8") if isinstance(v, str) else v) for k, v in headers.items()}
            r = api.raw_request(c["method"], c["path"], headers=h, body=data or b"")
        else:
            r = api.call(c["method"], c["path"], raw=data, headers=headers,
                         content_type=c["content_type"])
        where = f"case {c['name']}: {r.describe()}"
        statuses = c["status"] if isinstance(c["status"], tuple) else (c["status"],)
        codes = c["code"] if isinstance(c["code"], tuple) else (c["code"],)
        self.assertIn(r.status, statuses, where)
        error = r.error  # the body was checked against the Error schema by api.call
        self.assertIn(error["code"], codes, where)
        self.assertTrue(error["message"], where)
        self.assertIsInstance(error["fields"], list, where)
        if c["field"]:
            paths = [f["path"] for f in error["fields"]]
            self.assertIn(c["field"], paths, where)
        if c["check"]:
            c["check"](self, r)
        # Nothing started.
        self.assertEqual(self.deployment_ids(), [], where)
        self.assertEqual(self.executions(), [], where)

    def deployment_ids(self):
        return [d["jobId"] for d in self.list_all()]

    def test_error_schema_is_strict(self):
        # The Error schema refuses bodies of another shape: the matrix's checks mean something.
        import jsonschema
        schema = contract().schema("Error")
        good = {"error": {"code": "InvalidRequest", "message": "m", "fields": [],
                          "requestId": "r"}}
        jsonschema.validate(good, schema)
        for bad in ({"error": {"code": "InvalidRequest", "message": "m", "requestId": "r"}},
                    {"error": {"code": "Nope", "message": "m", "fields": [], "requestId": "r"}},
                    {"message": "m"}, {"error": "m"}):
            with self.assertRaises(jsonschema.ValidationError):
                jsonschema.validate(bad, schema)


both_topologies(BadInputTests, globals())

if __name__ == "__main__":
    unittest.main()
