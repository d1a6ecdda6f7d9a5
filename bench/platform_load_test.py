#!/usr/bin/env python3
"""Checks of bench/platform_load.py: its parsers on canned bytes, its arithmetic, its argument
checks, and whole runs against a fake `hpdeploy` (a small Python server speaking the parts of the
REST contract the benchmark uses), one of them with a fault the benchmark must report.

    python3 bench/platform_load_test.py
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import platform_load as pl  # noqa: E402


class ChunkedDecoderTest(unittest.TestCase):
    BODY = (b"5\r\nhello\r\n"
            b"1a;ext=1\r\n" + b"x" * 26 + b"\r\n"
            b"0\r\nTrailer: yes\r\n\r\n")

    def test_whole_body_at_once(self):
        d = pl.ChunkedDecoder()
        self.assertEqual(d.feed(self.BODY), b"hello" + b"x" * 26)
        self.assertTrue(d.done)

    def test_every_split_point_and_byte_by_byte(self):
        for cut in range(len(self.BODY) + 1):
            d = pl.ChunkedDecoder()
            out = d.feed(self.BODY[:cut]) + d.feed(self.BODY[cut:])
            self.assertEqual(out, b"hello" + b"x" * 26, cut)
            self.assertTrue(d.done, cut)
        d = pl.ChunkedDecoder()
        out = b"".join(d.feed(self.BODY[i:i + 1]) for i in range(len(self.BODY)))
        self.assertEqual(out, b"hello" + b"x" * 26)
        self.assertTrue(d.done)

    def test_not_done_before_the_last_chunk(self):
        d = pl.ChunkedDecoder()
        d.feed(b"5\r\nhello\r\n0\r\n")
        self.assertFalse(d.done)
        d.feed(b"\r\n")
        self.assertTrue(d.done)

    def test_bad_framing_is_a_protocol_error(self):
        for bad in (b"zz\r\nab\r\n", b"2\r\nabX\r\n", b"-1\r\n", b"0\r\n\r\nextra"):
            with self.assertRaises(pl.ProtocolError, msg=bad):
                pl.ChunkedDecoder().feed(bad)


class SseIdParserTest(unittest.TestCase):
    STREAM = (b"retry: 1000\n\n: ok\n\n"
              b"id: 1\nevent: status\ndata: {\"a\":1}\n\n"
              b": hb\n\n"
              b"id:2\nevent: progress\ndata: {\"id: 99\":\"not an id line\"}\n\n"
              b"id: 3\r\nevent: log\r\ndata: {}\r\n\r\n"
              b"event: end\ndata: {}\n\n")

    def test_canned_stream_in_every_split(self):
        for cut in range(len(self.STREAM) + 1):
            p = pl.SseIdParser()
            ids = p.feed(self.STREAM[:cut]) + p.feed(self.STREAM[cut:])
            self.assertEqual(ids, [1, 2, 3], cut)
            self.assertTrue(p.saw_end, cut)

    def test_unfinished_event_waits(self):
        p = pl.SseIdParser()
        self.assertEqual(p.feed(b"id: 7\nevent: status\ndata: {}\n"), [])
        self.assertEqual(p.feed(b"\n"), [7])
        self.assertFalse(p.saw_end)

    def test_through_chunked_framing(self):
        d, p = pl.ChunkedDecoder(), pl.SseIdParser()
        events = [b"id: %d\nevent: status\ndata: {}\n\n" % i for i in range(1, 50)]
        wire = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
        ids = []
        for i in range(0, len(wire), 7):
            ids += p.feed(d.feed(wire[i:i + 7]))
        self.assertEqual(ids, list(range(1, 50)))
        self.assertTrue(d.done)


class ParseHeadTest(unittest.TestCase):
    def test_status_and_lower_case_headers(self):
        status, headers = pl.parse_head(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\n")
        self.assertEqual(status, 429)
        self.assertEqual(headers, {"retry-after": "2", "transfer-encoding": "chunked"})

    def test_garbage(self):
        with self.assertRaises(pl.ProtocolError):
            pl.parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


class CheckSequenceTest(unittest.TestCase):
    def test_perfect(self):
        r = pl.check_sequence([1, 2, 3, 5], [1, 2, 3, 5])
        self.assertEqual(r, {"seen": 4, "lost": 0, "duplicated": 0, "out_of_order": 0,
                             "unexpected": 0})

    def test_each_kind_of_fault(self):
        r = pl.check_sequence([1, 3, 3, 2, 9], [1, 2, 3, 4, 5])
        self.assertEqual(r["lost"], 2)  # 4 and 5
        self.assertEqual(r["duplicated"], 1)
        self.assertEqual(r["out_of_order"], 2)  # 3 after 3, 2 after 3
        self.assertEqual(r["unexpected"], 1)  # 9

    def test_baseline_leaves_out_earlier_events(self):
        r = pl.check_sequence([4, 5, 6], [1, 2, 3, 4, 5, 6], baseline=3)
        self.assertEqual((r["seen"], r["lost"]), (3, 0))


class PercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(pl.percentile(values, 50), 50)
        self.assertEqual(pl.percentile(values, 99), 99)
        self.assertEqual(pl.percentile(values, 100), 100)
        self.assertEqual(pl.percentile([7], 90), 7)
        self.assertIsNone(pl.percentile([], 50))

    def test_summary_in_milliseconds(self):
        s = pl.latency_summary([0.003, 0.001, 0.002])
        self.assertEqual((s["count"], s["p50_ms"], s["max_ms"]), (3, 2.0, 3.0))


class ParseArgsTest(unittest.TestCase):
    def test_defaults(self):
        a = pl.parse_args(["--hpdeploy", sys.executable])
        self.assertEqual((a.sse_clients, a.rate, a.minutes, a.time_scale),
                         (200, 50.0, 2.0, 0.01))

    def test_values_and_server_args(self):
        a = pl.parse_args(["--hpdeploy", sys.executable, "--sse-clients", "0", "--rate", "2.5",
                           "--minutes", "0.5", "--time-scale", "0", "--server-arg=--http-threads=2"])
        self.assertEqual((a.sse_clients, a.rate, a.minutes, a.time_scale, a.server_arg),
                         (0, 2.5, 0.5, 0.0, ["--http-threads=2"]))

    def test_refusals(self):
        for argv in (["--rate", "0"], ["--minutes", "-1"], ["--sse-clients", "-1"],
                     ["--time-scale", "-0.1"], ["--rate", "nan"], ["--sse-procs", "0"]):
            with self.assertRaises(SystemExit, msg=argv), open(os.devnull, "w") as devnull:
                stderr, sys.stderr = sys.stderr, devnull
                try:
                    pl.parse_args(["--hpdeploy", sys.executable] + argv)
                finally:
                    sys.stderr = stderr
        with self.assertRaises(SystemExit), open(os.devnull, "w") as devnull:
            stderr, sys.stderr = sys.stderr, devnull
            try:
                pl.parse_args(["--hpdeploy", "/nonexistent/hpdeploy"])
            finally:
                sys.stderr = stderr


# A stand-in for `hpdeploy`: `token create` and `serve` with the routes the benchmark uses. Each
# deployment emits five events over a few (scaled) seconds. FAKE_DUPLICATE=N sends the N-th
# event twice to the first SSE connection, a fault the benchmark must report; FAKE_CUT=N drops
# the first SSE connection after its N-th event, which a client must recover from with
# Last-Event-ID.
FAKE_HPDEPLOY = textwrap.dedent(r'''
    import json, os, signal, sys, threading, time, uuid
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def opt(name, default=None):
        return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default

    if sys.argv[1:3] == ["sandbox", "quotas"]:
        print("L-C4A00C85  16  ml.g5.8xlarge for cluster usage")
        sys.exit(0)
    data_dir = opt("--data-dir")
    tokens_file = os.path.join(data_dir, "tokens.json")
    if sys.argv[1:3] == ["token", "create"]:
        os.makedirs(data_dir, exist_ok=True)
        tokens = json.load(open(tokens_file)) if os.path.exists(tokens_file) else {}
        token = "hpd_" + uuid.uuid4().hex
        tokens[token] = {"name": opt("--name"), "role": opt("--role")}
        json.dump(tokens, open(tokens_file, "w"))
        print(token)
        print("Created token", file=sys.stderr)
        sys.exit(0)
    assert sys.argv[1] == "serve"
    scale = float(opt("--time-scale", "1"))
    tokens = json.load(open(tokens_file))
    duplicate_at = int(os.environ.get("FAKE_DUPLICATE", "0"))
    cut_at = int(os.environ.get("FAKE_CUT", "0"))
    lock = threading.Condition()
    events = []  # (seq, kind, job id)
    deployments = {}  # job id -> status, in creation order
    connections = [0]

    def emit(job, kind):
        with lock:
            events.append((len(events) + 1, kind, job))
            lock.notify_all()

    def run_deployment(job):
        emit(job, "status")
        for _ in range(3):
            time.sleep(100 * scale)
            emit(job, "progress")
        with lock:
            deployments[job] = "SUCCEEDED"
        emit(job, "status")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a):
            pass
        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def authed(self):
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and auth[7:] in tokens:
                return True
            self.reply(401, {"error": {"code": "Unauthenticated", "message": "no", "fields": []}})
            return False
        def do_POST(self):
            if not self.authed():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert body == {"config": {"preset": "small", "region": "us-west-2"}}, body
            job = uuid.uuid4().hex
            with lock:
                deployments[job] = "RUNNING"
            threading.Thread(target=run_deployment, args=(job,), daemon=True).start()
            self.reply(202, {"jobId": job, "status": "RUNNING"})
        def do_GET(self):
            if not self.authed():
                return
            path, _, query = self.path.partition("?")
            q = dict(p.split("=", 1) for p in query.split("&") if p)
            if path == "/api/v1/hyperpod/events":
                return self.stream(self.headers.get("Last-Event-ID"))
            if path == "/api/v1/hyperpod/deployments":
                with lock:
                    items = [{"jobId": j, "status": s} for j, s in deployments.items()
                             if s in q.get("status", s)]
                start = int(q.get("nextToken", "0"))
                limit = int(q.get("limit", "20"))
                page = items[start:start + limit]
                more = start + limit < len(items)
                return self.reply(200, {"deployments": page,
                                        "nextToken": str(start + limit) if more else None})
            job = path.rsplit("/", 1)[-1]
            with lock:
                status = deployments.get(job)
            if status is None:
                return self.reply(404, {"error": {"code": "DeploymentNotFound", "message": job}})
            self.reply(200, {"jobId": job, "status": status})
        def chunk(self, text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        def stream(self, last_id):
            with lock:
                connections[0] += 1
                first = connections[0] == 1
                cursor = int(last_id) if last_id is not None else len(events)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.chunk("retry: 1000\n\n: ok\n\n")
            while True:
                with lock:
                    lock.wait_for(lambda: len(events) > cursor, timeout=1.0)
                    batch = events[cursor:]
                for seq, kind, job in batch:
                    text = "id: %d\nevent: %s\ndata: {\"job\":\"%s\"}\n\n" % (seq, kind, job)
                    self.chunk(text)
                    if first and seq == duplicate_at:
                        self.chunk(text)
                    if first and seq == cut_at:
                        self.close_connection = True
                        return
                cursor += len(batch)
                if not batch:
                    self.chunk(": hb\n\n")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    print("hpdeploy serve: listening on http://127.0.0.1:%d" % server.server_port, flush=True)
    server.serve_forever()
    sys.exit(0)
''')


class WholeRunTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.fake = os.path.join(self.dir.name, "hpdeploy")
        with open(self.fake, "w") as f:
            f.write("#!%s\n%s" % (sys.executable, FAKE_HPDEPLOY))
        os.chmod(self.fake, 0o755)

    def tearDown(self):
        self.dir.cleanup()

    def run_bench(self, env_extra=None):
        out = os.path.join(self.dir.name, "figures.json")
        env = dict(os.environ, **(env_extra or {}))
        result = subprocess.run(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "platform_load.py"),
             "--hpdeploy", self.fake, "--sse-clients", "25", "--sse-procs", "2", "--rate", "900",
             "--minutes", "0.05", "--time-scale", "0.001", "--quiet-seconds", "1",
             "--json", out],
            capture_output=True, text=True, timeout=180, env=env)
        figures = None
        if os.path.exists(out):
            with open(out) as f:
                figures = json.load(f)
        return result, figures

    def test_clean_run_reports_everything_seen_once(self):
        result, f = self.run_bench()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("result: OK", result.stdout)
        self.assertEqual(f["deployments"]["started"], 45)
        self.assertEqual(f["deployments"]["succeeded"], 45)
        self.assertEqual(f["events"]["in_run"], 45 * 5)
        self.assertEqual(f["events"]["clients"], 25)
        self.assertEqual(f["events"]["totals"], {"lost": 0, "duplicated": 0, "out_of_order": 0,
                                                 "unexpected": 0, "reconnects": 0})
        self.assertTrue(all(c["seen"] == 45 * 5 for c in f["events"]["per_client"]))
        self.assertGreater(f["rest_latency"]["all"]["count"], 0)
        self.assertGreater(f["server"]["rss_max_sampled_kib"], 0)
        self.assertEqual(f["server"]["exit_status"], 0)

    def test_duplicate_event_is_reported(self):
        result, f = self.run_bench({"FAKE_DUPLICATE": "7"})
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("1 of 25 SSE clients", result.stdout)
        self.assertEqual(f["events"]["totals"]["duplicated"], 1)
        self.assertEqual(f["events"]["totals"]["out_of_order"], 1)
        self.assertEqual(f["events"]["totals"]["lost"], 0)

    def test_client_cut_off_reconnects_and_loses_nothing(self):
        result, f = self.run_bench({"FAKE_CUT": "9"})
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(f["events"]["totals"], {"lost": 0, "duplicated": 0, "out_of_order": 0,
                                                 "unexpected": 0, "reconnects": 1})
        self.assertIn("cut short", result.stdout)

    def test_server_that_does_not_start_is_a_setup_failure(self):
        broken = os.path.join(self.dir.name, "broken")
        with open(broken, "w") as f:
            f.write("#!/bin/sh\nif [ \"$1\" = token ]; then echo tok; exit 0; fi\n"
                    "echo 'unknown option --time-scale' >&2; exit 2\n")
        os.chmod(broken, 0o755)
        result = subprocess.run(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "platform_load.py"), "--hpdeploy", broken],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("did not announce its URL", result.stderr)
        self.assertIn("unknown option --time-scale", result.stderr)


if __name__ == "__main__":
    unittest.main()
