"""A client for hpdeploy's platform REST API that checks every answer against docs/openapi.yaml.

- Contract: docs/openapi.yaml, its schemas turned into JSON Schema (OpenAPI 3.0's `nullable`,
  $ref resolved inline) and checked with jsonschema. Api.call validates every JSON response
  against the schema of its route + method + status, and fails (AssertionError naming the
  route, the status and the schema violation) on an undocumented status or a body that does not
  fit, and on a response without X-Request-Id.
- Api: plain http.client requests (one connection each), a raw-socket request for what
  http.client will not send (path tricks, oversized bodies and headers).
- SseClient: a Server-Sent Events reader (frames dispatched on the blank line, as browsers do).
"""

import http.client
import json
import os
import re
import socket
import time
import urllib.parse

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAPI_PATH = os.environ.get(
    "HPD_OPENAPI", os.path.join(HERE, "..", "..", "docs", "openapi.yaml"))

# Error statuses any route may answer for reasons outside the route (server-level limits, a
# method the path lacks, failures): their bodies are checked against Error.
GENERIC_ERROR_STATUSES = {405, 413, 415, 429, 431, 500, 503}


class Contract:
    def __init__(self, path=OPENAPI_PATH):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.routes = []  # (method, template, regex, operation)
        for template, item in self.doc["paths"].items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            for method, operation in item.items():
                if method == "parameters":
                    continue
                self.routes.append((method.upper(), template, re.compile(pattern), operation))
        # Literal routes before templated ones (".../deployments/validate" is not a jobId).
        self.routes.sort(key=lambda r: r[1].count("{"))
        self._cache = {}

    def resolve(self, ref):
        assert ref.startswith("#/"), ref
        node = self.doc
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    def json_schema(self, schema):
        """`schema` (OpenAPI 3.0) as a self-contained JSON Schema (draft 7)."""
        if isinstance(schema, list):
            return [self.json_schema(s) for s in schema]
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema:
            return self.json_schema(self.resolve(schema["$ref"]))
        out = {}
        for key, value in schema.items():
            if key in ("nullable", "example", "x-hpd-sse-events", "readOnly", "writeOnly",
                       "discriminator", "xml", "externalDocs", "deprecated"):
                continue
            if key in ("properties", "patternProperties"):
                out[key] = {k: self.json_schema(v) for k, v in value.items()}
            elif key in ("items", "additionalProperties", "not"):
                out[key] = self.json_schema(value)
            elif key in ("allOf", "anyOf", "oneOf"):
                out[key] = [self.json_schema(v) for v in value]
            else:
                out[key] = value
        if schema.get("nullable"):
            return {"anyOf": [{"type": "null"}, out]}
        return out

    def schema(self, name):
        return self.json_schema({"$ref": "#/components/schemas/" + name})

    def route(self, method, path):
        """(template, operation) for a request path (no query), or (template, None) when the
        path exists without this method, or (None, None)."""
        path = path.split("?", 1)[0]
        found = None
        for m, template, regex, operation in self.routes:
            if regex.match(path):
                if m == method:
                    return template, operation
                found = found or template
        return found, None

    def response(self, method, path, status):
        template, operation = self.route(method, path)
        if operation is None:
            return template, None
        responses = operation["responses"]
        response = responses.get(str(status)) or responses.get("default")
        if response and "$ref" in response:
            response = self.resolve(response["$ref"])
        return template, response

    def check(self, method, path, status, content_type, body):
        """Raises AssertionError when the answer does not fit the document."""
        template, operation = self.route(method, path)
        _, response = self.response(method, path, status)
        where = f"{method} {path} (route {template}) -> {status}"
        if response is None:
            # Undocumented: a success never may; an error only when it is one any route may
            # answer (or the route or method does not exist).
            if status < 400 or (operation is not None and status not in GENERIC_ERROR_STATUSES):
                raise AssertionError(f"OpenAPI contract: {where} is not documented")
            schema = self.schema("Error")
        else:
            content = response.get("content")
            if not content:
                if body:
                    raise AssertionError(f"OpenAPI contract: {where} documents no body, got "
                                         f"{body[:200]!r}")
                return
            media = content_type.split(";", 1)[0].strip().lower()
            documented = {k.split(";", 1)[0].strip().lower(): v for k, v in content.items()}
            if media not in documented:
                raise AssertionError(f"OpenAPI contract: {where}: Content-Type {content_type!r}"
                                     f" not among {sorted(documented)}")
            if media != "application/json":
                return
            schema = self.json_schema(documented[media]["schema"])
        key = json.dumps(schema, sort_keys=True)
        validator = self._cache.get(key)
        if validator is None:
            validator = jsonschema.Draft7Validator(schema)
            self._cache[key] = validator
        try:
            value = json.loads(body)
        except ValueError as e:
            raise AssertionError(f"OpenAPI contract: {where}: body is not JSON ({e}): "
                                 f"{body[:200]!r}")
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise AssertionError(
                f"OpenAPI contract: {where}: body does not fit its schema at "
                f"/{'/'.join(str(p) for p in e.path)}: {e.message}\nbody: {body[:2000]!r}")

    def sse_schemas(self, path):
        """{event kind: JSON Schema} of the SSE route `path`."""
        _, response = self.response("GET", path, 200)
        content = (response or {}).get("content", {}).get("text/event-stream", {})
        return {k: self.json_schema(v) for k, v in content.get("x-hpd-sse-events", {}).items()}


_contract = None


def contract():
    global _contract
    if _contract is None:
        _contract = Contract()
    return _contract


class Response:
    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers  # lower-case name -> value (the last one)
        self.body = body
        self._json = None

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.body)
        return self._json

    @property
    def error(self):
        return self.json["error"]

    def describe(self):
        return f"{self.method} {self.path} -> {self.status}: {self.body[:1500]!r}"


def _check_common(response):
    if not response.header("x-request-id"):
        raise AssertionError(f"no X-Request-Id on {response.describe()}")
    if response.status >= 400 and response.body:
        error = json.loads(response.body).get("error", {})
        if error.get("requestId") != response.header("x-request-id"):
            raise AssertionError(f"error.requestId != X-Request-Id on {response.describe()}")


class Api:
    """Requests to one server as one token (None: no Authorization header)."""

    def __init__(self, url, token=None, check_contract=True, timeout=60):
        parsed = urllib.parse.urlsplit(url)
        self.url = url
        self.host = parsed.hostname
        self.port = parsed.port
        self.token = token
        self.check_contract = check_contract
        self.timeout = timeout

    def as_token(self, token):
        return Api(self.url, token, self.check_contract, self.timeout)

    def headers(self, extra=None, token="default"):
        token = self.token if token == "default" else token
        h = {}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        h.update(extra or {})
        return h

    def call(self, method, path, body=None, headers=None, raw=None, query=None,
             token="default", content_type="application/json"):
        """One request. `body` is sent as JSON; `raw` (bytes) as given."""
        if query:
            path = path + "?" + urllib.parse.urlencode(query)
        h = self.headers(headers, token)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
        elif raw is not None:
            data = raw
        if data is not None and content_type is not None and "Content-Type" not in h:
            h["Content-Type"] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            payload = r.read()
            response = Response(method, path, r.status,
                                {k.lower(): v for k, v in r.getheaders()}, payload)
        finally:
            conn.close()
        self.verify(response)
        return response

    def verify(self, response):
        _check_common(response)
        if self.check_contract:
            contract().check(response.method, response.path, response.status,
                             response.header("content-type") or "", response.body)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def raw(self, request_bytes, method="GET", path="/", body_chunks=(), timeout=30):
        """Sends `request_bytes` (request line + headers + blank line), then `body_chunks` as far
        as the server takes them; reads the answer (one response, Connection: close)."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            try:
                sock.sendall(request_bytes)
                for chunk in body_chunks:
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early and closed: read what it said
            data = b""
            while True:
                try:
                    piece = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not piece:
                    break
                data += piece
                head, sep, rest = data.partition(b"\r\n\r\n")
                if sep:
                    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                    if m and len(rest) >= int(m.group(1)):
                        break
        finally:
            sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines or not lines[0].startswith("HTTP/"):
            raise AssertionError(f"no HTTP answer to {request_bytes[:200]!r}: {data[:200]!r}")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        m = re.search(r"(\d+)", headers.get("content-length", ""))
        if m:
            body = body[:int(m.group(1))]
        response = Response(method, path, status, headers, body)
        self.verify(response)
        return response

    def raw_request(self, method, path, headers=None, body=b"", token="default"):
        h = {"Host": f"{self.host}:{self.port}", "Connection": "close"}
        h.update(self.headers(headers, token))
        if body or method in ("POST", "PUT"):
            h.setdefault("Content-Length", str(len(body)))
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
        for k, v in h.items():
            head += k.encode("latin-1") + b": " + (v if isinstance(v, bytes) else
                                                    v.encode("latin-1")) + b"\r\n"
        head += b"\r\n"
        chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
        return self.raw(head, method, path, chunks)


class SseEvent:
    def __init__(self, id, event, data):
        self.id = id
        self.event = event
        self.data = data

    @property
    def sequence(self):
        return int(self.id) if self.id is not None else None

    @property
    def json(self):
        return json.loads(self.data)

    def key(self):
        return (self.id, self.event, self.data)

    def __repr__(self):
        return f"SseEvent(id={self.id}, event={self.event}, data={self.data[:120]})"


class SseClient:
    """One SSE connection. Iterating yields SseEvents; `comments` and `retry` are recorded."""

    def __init__(self, api, path, last_event_id=None, headers=None, timeout=40):
        self.api = api
        self.path = path
        self.conn = http.client.HTTPConnection(api.host, api.port, timeout=timeout)
        h = api.headers({"Accept": "text/event-stream"})
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        h.update(headers or {})
        self.conn.request("GET", path, headers=h)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = {k.lower(): v for k, v in self.response.getheaders()}
        self.comments = []
        self.retry = None
        self.schemas = contract().sse_schemas(path.split("?", 1)[0]) if api.check_contract else {}
        if self.status != 200:
            body = self.response.read()
            r = Response("GET", path, self.status, self.headers, body)
            api.verify(r)
            self.error_response = r

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass

    def settimeout(self, seconds):
        if self.conn.sock is not None:
            self.conn.sock.settimeout(seconds)

    def __iter__(self):
        event_id, kind, data = None, None, []
        while True:
            raw = self.response.readline()
            if not raw:
                return  # closed
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data or kind:
                    e = SseEvent(event_id, kind or "message", "\n".join(data))
                    self._check(e)
                    yield e
                event_id, kind, data = None, None, []
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "id":
                event_id = value
            elif field == "event":
                kind = value
            elif field == "data":
                data.append(value)
            elif field == "retry":
                self.retry = int(value)

    def _check(self, e):
        schema = self.schemas.get(e.event)
        if self.api.check_contract and self.schemas:
            if schema is None:
                raise AssertionError(f"OpenAPI contract: SSE {self.path}: event kind {e.event!r}"
                                     f" not documented ({sorted(self.schemas)})")
            try:
                jsonschema.validate(json.loads(e.data), schema)
            except (ValueError, jsonschema.ValidationError) as error:
                raise AssertionError(f"OpenAPI contract: SSE {self.path}: {e!r}: {error}")
        if e.event != "end" and e.id is None and self.path.split("?")[0].endswith("/events"):
            raise AssertionError(f"SSE {self.path}: frame without id: {e!r}")


def follow(api, path, until_end=True, last_event_id=None, timeout=300, on_event=None):
    """Reads the stream at `path` to its `end` (or until `on_event` returns True); the events."""
    deadline = time.time() + timeout
    events = []
    stream = SseClient(api, path, last_event_id)
    if stream.status != 200:
        raise AssertionError(f"SSE {path}: {stream.error_response.describe()}")
    try:
        for e in stream:
            events.append(e)
            if e.event == "end":
                break
            if on_event is not None and on_event(e):
                break
            if time.time() > deadline:
                raise AssertionError(f"SSE {path}: no end after {timeout} s; got {events[-5:]}")
    finally:
        stream.close()
    return events


def wait_for(predicate, timeout, what, interval=0.2):
    """Polls `predicate` (returning a true value when done) until `timeout`; the value."""
    deadline = time.time() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
