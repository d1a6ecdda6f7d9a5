"""docs/openapi.yaml on its own (no server): it is OpenAPI 3.0.3, every $ref resolves, every
schema is valid JSON Schema once converted, every operation states its role and documents the
errors every authenticated route can answer, and path parameters are declared.

Run by ctest; needs python3-yaml and python3-jsonschema (scripts/setup).
"""

import re
import unittest

import jsonschema

from rest_api import contract

ERROR_CODES = {"InvalidRequest", "InvalidParameter", "Unauthenticated", "Forbidden", "NotFound",
               "DeploymentNotFound", "WebhookNotFound", "MethodNotAllowed", "JobAlreadyExists",
               "IdempotencyKeyReused", "DeploymentNotRunning", "TeardownNotAllowed",
               "PayloadTooLarge", "UnsupportedMediaType", "GuardrailViolation", "RateLimited",
               "HeaderTooLarge", "InternalError", "BackendUnavailable"}
PUBLIC = {"/healthz", "/readyz"}


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


class OpenApiDocumentTest(unittest.TestCase):
    def setUp(self):
        self.c = contract()
        self.doc = self.c.doc

    def test_version_and_security(self):
        self.assertEqual(self.doc["openapi"], "3.0.3")
        scheme = self.doc["components"]["securitySchemes"]["bearerAuth"]
        self.assertEqual((scheme["type"], scheme["scheme"]), ("http", "bearer"))
        self.assertEqual(self.doc["security"], [{"bearerAuth": []}])

    def test_every_ref_resolves(self):
        for ref in refs(self.doc):
            self.c.resolve(ref)

    def test_every_schema_is_valid_json_schema(self):
        for name in self.doc["components"]["schemas"]:
            jsonschema.Draft7Validator.check_schema(self.c.schema(name))

    def test_error_codes_are_the_contracts(self):
        codes = self.c.schema("Error")["properties"]["error"]["properties"]["code"]["enum"]
        self.assertEqual(set(codes), ERROR_CODES)

    def test_operations(self):
        for method, template, _, op in self.c.routes:
            where = f"{method} {template}"
            self.assertTrue(op.get("description", "").startswith("Role: "), where)
            self.assertTrue(op.get("operationId"), where)
            responses = op["responses"]
            if template in PUBLIC:
                self.assertEqual(op.get("security"), [], where)
            else:
                for status in ("401", "403", "429"):
                    self.assertIn(status, responses, where)
            if method == "POST" and "requestBody" in op:
                for status in ("413", "415"):
                    self.assertIn(status, responses, where)
            successes = [s for s in responses if s.startswith("2")]
            self.assertTrue(successes, where)
            for status, response in responses.items():
                if status.startswith(("4", "5")) and template not in PUBLIC:
                    self.assertIn("$ref", response, f"{where} {status}: use a shared response")
            params = set(re.findall(r"\{([^}]+)\}", template))
            item = self.doc["paths"][template]
            declared = set()
            for p in item.get("parameters", []) + op.get("parameters", []):
                p = self.c.resolve(p["$ref"]) if "$ref" in p else p
                if p["in"] == "path":
                    declared.add(p["name"])
            self.assertEqual(params, declared, where)

    def test_sse_routes_document_their_events(self):
        for path in ("/api/v1/hyperpod/deployments/x/events", "/api/v1/hyperpod/events"):
            self.assertTrue({"status", "progress", "log"} <= set(self.c.sse_schemas(path)), path)

    def test_request_bodies_refuse_unknown_members(self):
        for name in ("CreateDeploymentRequest", "CreateWebhookRequest"):
            schema = self.c.schema(name)
            self.assertIs(schema["additionalProperties"], False, name)
        create = self.c.schema("CreateDeploymentRequest")
        good = {"config": {"region": "us-west-2"}}
        jsonschema.validate(good, create)
        for bad in ({"config": {"region": "r", "foo": 1}}, {"config": {"region": "r"},
                    "requestedBy": "x"}, {"config": {"region": "r"}, "timeoutSeconds": 59}):
            with self.assertRaises(jsonschema.ValidationError):
                jsonschema.validate(bad, create)


if __name__ == "__main__":
    unittest.main()
