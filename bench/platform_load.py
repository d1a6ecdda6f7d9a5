#!/usr/bin/env python3
"""Load benchmark of the platform REST API (hpdeploy serve): SSE fan-out, deployment starts, REST
latency, server memory and CPU. A program that prints figures, not a test.

    python3 bench/platform_load.py --hpdeploy build/bin/hpdeploy \
        [--sse-clients 200] [--rate 50 (per minute)] [--minutes 2] [--time-scale 0.01]

What it does, in order:
  1. Creates a fresh data dir and API tokens in it (`hpdeploy token create`): admin tokens for the
     SSE clients, deployer tokens for the creates, a viewer token for the latency probes. The
     per-token rate limit (20/s, burst 40 by default) is respected by spreading the load over
     enough tokens, not by raising the limit.
  2. Starts `hpdeploy serve --port 0 --data-dir DIR --time-scale X` and reads the
     "hpdeploy serve: listening on URL" line.
  3. Opens N SSE clients on GET /api/v1/hyperpod/events (raw HTTP/1.1 on asyncio, in separate
     processes so that parsing events does not delay the latency probes), and waits until every
     one has its 200.
  4. Raises the sandbox quotas, then creates deployments at --rate per minute for --minutes (open loop: each create is due at
     t0 + i/rate whether or not the earlier ones have been answered), while a prober times
     GET /api/v1/hyperpod/deployments and GET /api/v1/hyperpod/deployments/{jobId}.
  5. Waits until no deployment is RUNNING, then counts the outcomes.
  6. Replays the global stream from the start (Last-Event-ID: 0) on a fresh connection, and checks
     every SSE client's `id:` sequence against it: lost, duplicated, out of order, unexpected. A
     client whose stream the server closed reconnects with Last-Event-ID, as EventSource does;
     reconnects are counted and a correct server loses nothing across them.
  7. Prints the figures (and writes them as JSON with --json FILE). Exit status: 0 when every
     deployment ended and every client saw every event exactly once in order, 1 when a check
     failed, 2 when the run could not be set up.

Only the Python standard library is used. Traffic goes to the loopback server this program starts.
"""

import argparse
import array
import asyncio
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

EVENTS_PATH = "/api/v1/hyperpod/events"
DEPLOYMENTS_PATH = "/api/v1/hyperpod/deployments"
REGION = "us-west-2"
CREATE_BODY = {"config": {"preset": "small", "region": REGION}}
# Every deployment keeps its cluster, so the sandbox account's default quotas (16 instances of a
# type) would refuse all but the first few; the run raises them as an approved quota increase
# would, so that what is measured is the platform, not the guardrail.
RAISED_QUOTA = 1000000
TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

# The server's per-token limit is 20 requests/s; each token is driven at half of it so that bursts
# from an open-loop schedule that fell behind do not run into 429s.
PER_TOKEN_RATE = 10.0
# SSE opens count against the limit too (burst 40): this many clients share one admin token.
SSE_CLIENTS_PER_TOKEN = 20


class SetupError(Exception):
    """The run could not be set up (exit status 2)."""


class ProtocolError(Exception):
    """The server sent bytes that are not valid HTTP/1.1 chunked framing or SSE."""


# ---------------------------------------------------------------------------------------------
# Parsing: HTTP heads, chunked transfer coding, SSE ids. Kept cheap: 200 clients may each receive
# hundreds of thousands of events.


def parse_head(head):
    """Parses an HTTP response head (bytes up to and including the blank line).

    Returns (status, headers) with header names lower-cased (the last value wins).
    """
    text = head.decode("iso-8859-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError("bad status line: %r" % lines[0][:100])
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError("bad header line: %r" % line[:100])
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class ChunkedDecoder:
    """Incremental decoder of the HTTP/1.1 chunked transfer coding (RFC 9112 7.1).

    feed() returns the payload bytes decoded so far; `done` turns true after the last chunk and
    its (empty or not) trailer section.
    """

    _SIZE = 0  # expecting a chunk-size line
    _DATA = 1  # inside chunk data
    _DATA_END = 2  # expecting the CRLF after chunk data
    _TRAILER = 3  # after the last chunk: trailer lines until an empty one
    _DONE = 4

    def __init__(self):
        self._buf = bytearray()
        self._state = self._SIZE
        self._remaining = 0

    @property
    def done(self):
        return self._state == self._DONE

    def feed(self, data):
        if self._state == self._DONE:
            if data:
                raise ProtocolError("bytes after the end of a chunked body")
            return b""
        buf = self._buf
        buf += data
        out = []
        pos = 0
        n = len(buf)
        while pos < n:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, n - pos)
                out.append(bytes(buf[pos:pos + take]))
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = self._DATA_END
            elif state == self._DATA_END:
                if n - pos < 2:
                    break
                if buf[pos:pos + 2] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                pos += 2
                self._state = self._SIZE
            elif state == self._SIZE:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if n - pos > 1024:
                        raise ProtocolError("chunk-size line too long")
                    break
                size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError("bad chunk size %r" % size_text[:40]) from None
                if size_text[:1] in (b"-", b"+") or size < 0:
                    raise ProtocolError("bad chunk size %r" % size_text[:40])
                pos = eol + 2
                if size == 0:
                    self._state = self._TRAILER
                else:
                    self._remaining = size
                    self._state = self._DATA
            elif state == self._TRAILER:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                empty = eol == pos
                pos = eol + 2
                if empty:
                    self._state = self._DONE
                    if pos < n:
                        raise ProtocolError("bytes after the end of a chunked body")
            else:
                break
        del buf[:pos]
        return b"".join(out)


# An event's id line ("id: 42" or "id:42"). Data lines hold one-line JSON, so a line that starts
# with "id:" is always a field.
_ID_RE = re.compile(rb"^id: ?(\d+)$", re.M)
_END_RE = re.compile(rb"^event: ?end$", re.M)


class SseIdParser:
    """Incremental parser of a text/event-stream that keeps only what the check needs: the ids of
    complete events, in order, and whether an `event: end` arrived.

    An event is complete at its blank line; bytes of an unfinished event wait for the next feed.
    Line ends may be LF or CRLF (or CR alone, which is normalised before matching).
    """

    def __init__(self):
        self._tail = b""
        self.saw_end = False

    def feed(self, data):
        if not data:
            return []
        text = self._tail + data
        if b"\r" in text:
            # A CR at the very end may be the first half of a CRLF: keep it for the next feed.
            keep_cr = text.endswith(b"\r")
            if keep_cr:
                text = text[:-1]
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                text += b"\r"
        cut = text.rfind(b"\n\n")
        if cut < 0:
            self._tail = text
            return []
        complete = text[:cut + 1]
        self._tail = text[cut + 2:]
        if not self.saw_end and b"event:" in complete and _END_RE.search(complete):
            self.saw_end = True
        return [int(m) for m in _ID_RE.findall(complete)]


def check_sequence(seen, expected, baseline=0, expected_set=None):
    """Compares the ids one client saw with the ids every client should have seen.

    `expected` is the replay of the global stream (ascending); ids at or below `baseline` predate
    the run and are left out of both sides. Returns counts: lost (expected, never seen),
    duplicated (seen more than once; each extra copy counts), out_of_order (steps where an id is
    not greater than the one before), unexpected (seen but not in the replay), seen.
    `expected_set`, if given, is set(s for s in expected if s > baseline), computed once for many
    clients.
    """
    seen_run = [s for s in seen if s > baseline]
    seen_set = set(seen_run)
    if expected_set is None:
        expected_set = set(s for s in expected if s > baseline)
    out_of_order = 0
    previous = None
    for s in seen_run:
        if previous is not None and s <= previous:
            out_of_order += 1
        previous = s
    return {
        "seen": len(seen_run),
        "lost": len(expected_set - seen_set),
        "duplicated": len(seen_run) - len(seen_set),
        "out_of_order": out_of_order,
        "unexpected": len(seen_set - expected_set),
    }


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list; None when it is empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(samples):
    values = sorted(samples)
    return {
        "count": len(values),
        "p50_ms": _ms(percentile(values, 50)),
        "p90_ms": _ms(percentile(values, 90)),
        "p99_ms": _ms(percentile(values, 99)),
        "max_ms": _ms(values[-1] if values else None),
    }


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 2)


# ---------------------------------------------------------------------------------------------
# SSE clients: asyncio in worker processes.


async def open_event_stream(host, port, token, last_event_id=None, path=EVENTS_PATH):
    """Sends the SSE request and reads the response head.

    Returns (reader, writer, status, headers); the caller closes the writer.
    """
    reader, writer = await asyncio.open_connection(host, port)
    request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n" % (path, host, port, token))
    if last_event_id is not None:
        request += "Last-Event-ID: %d\r\n" % last_event_id
    request += "\r\n"
    writer.write(request.encode("ascii"))
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        writer.close()
        raise ProtocolError("no complete response head: %s" % e) from None
    status, headers = parse_head(head)
    return reader, writer, status, headers


class BodyReader:
    """The body of a response as it arrives: chunked, by Content-Length, or until the close."""

    def __init__(self, reader, headers):
        self._reader = reader
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._decoder = ChunkedDecoder() if self._chunked else None
        length = headers.get("content-length")
        self._left = int(length) if (length and not self._chunked) else None
        self.ended = False  # the body ended as framed (not cut short)

    async def read(self, size=262144):
        """Payload bytes; b"" at the end (see `ended`)."""
        while True:
            if self._left == 0 or (self._decoder is not None and self._decoder.done):
                self.ended = True
                return b""
            want = size if self._left is None else min(size, self._left)
            data = await self._reader.read(want)
            if not data:
                # A close-delimited body ends here; a framed one was cut short.
                self.ended = self._decoder is None and self._left is None
                return b""
            if self._left is not None:
                self._left -= len(data)
                return data
            if self._decoder is None:
                return data
            payload = self._decoder.feed(data)
            if payload:
                return payload


async def read_small_body(reader, headers, limit=65536):
    body = BodyReader(reader, headers)
    out = b""
    while len(out) < limit:
        data = await body.read()
        if not data:
            break
        out += data
    return out


class ClientState:
    def __init__(self, index, token):
        self.index = index
        self.token = token
        self.ids = array.array("q")
        self.last_id = None
        self.connected = False
        self.connects = 0
        self.reconnects = 0  # the stream ended or broke while the run went on
        self.refused = {}  # status -> count (429 included)
        self.errors = 0
        self.last_error = ""


class SseWorker:
    """Runs some of the SSE clients and answers the main process over a pipe."""

    def __init__(self, conn, host, port, specs):
        self._conn = conn
        self._host = host
        self._port = port
        self._clients = [ClientState(index, token) for index, token in specs]
        self._stopping = False

    async def run(self):
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(self._client(c)) for c in self._clients]
        try:
            while True:
                command, payload = await loop.run_in_executor(None, self._conn.recv)
                if command == "status":
                    self._conn.send(self._status())
                elif command == "finish":
                    self._stopping = True
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    self._conn.send(self._results(*payload))
                    return
        finally:
            for task in tasks:
                task.cancel()

    def _status(self):
        last = [c.last_id if c.last_id is not None else 0 for c in self._clients]
        return {
            "clients": len(self._clients),
            "connected": sum(1 for c in self._clients if c.connected),
            "events": sum(len(c.ids) for c in self._clients),
            "min_last_id": min(last) if last else 0,
            "max_last_id": max(last) if last else 0,
            "reconnects": sum(c.reconnects for c in self._clients),
            "errors": sum(c.errors for c in self._clients),
            "last_error": next((c.last_error for c in self._clients if c.last_error), ""),
        }

    def _results(self, baseline, expected):
        results = []
        expected_set = set(s for s in expected if s > baseline)
        for c in self._clients:
            r = check_sequence(c.ids, expected, baseline, expected_set)
            r.update(client=c.index, connects=c.connects, reconnects=c.reconnects,
                     refused=c.refused, errors=c.errors, last_error=c.last_error)
            results.append(r)
        usage = os.times()
        return {"clients": results, "cpu_seconds": usage.user + usage.system}

    async def _client(self, c):
        while not self._stopping:
            writer = None
            # The first connection starts live; a reconnect resumes after the last id seen, or
            # replays from the start if none was (ids before the run are left out of the check).
            resume = c.last_id
            if resume is None and c.connects > 0:
                resume = 0
            try:
                reader, writer, status, headers = await open_event_stream(
                    self._host, self._port, c.token, resume)
                if status != 200:
                    c.refused[status] = c.refused.get(status, 0) + 1
                    body = await read_small_body(reader, headers)
                    c.last_error = "HTTP %d %s" % (status, body[:200].decode("utf-8", "replace"))
                    delay = 1.0
                    if status == 429:
                        delay = max(1.0, float(headers.get("retry-after", "1") or 1))
                    await asyncio.sleep(delay * (1.0 + random.random() * 0.5))
                    continue
                c.connected = True
                c.connects += 1
                body = BodyReader(reader, headers)
                parser = SseIdParser()
                while True:
                    data = await body.read()
                    if not data:
                        break
                    ids = parser.feed(data)
                    if ids:
                        c.ids.extend(ids)
                        c.last_id = ids[-1]
                if not self._stopping:
                    c.reconnects += 1
                    c.last_error = "stream ended (%s)" % (
                        "well-formed end" if body.ended else "cut short")
            except asyncio.CancelledError:
                raise
            except (OSError, ProtocolError, ValueError) as e:
                c.errors += 1
                c.last_error = "%s: %s" % (type(e).__name__, e)
                if c.connected:
                    c.reconnects += 1
                await asyncio.sleep(0.5)
            finally:
                if writer is not None:
                    writer.close()


def sse_worker_main(conn, host, port, specs):
    try:
        asyncio.run(SseWorker(conn, host, port, specs).run())
    except KeyboardInterrupt:
        pass


async def replay_ids(host, port, token, after, quiet_seconds, at_least, deadline):
    """Reads the global stream from `after` on, until it has been quiet for `quiet_seconds` and the
    highest id is at least `at_least`, or quiet for ten times as long whatever the highest id (a
    server that does not replay everything), or until `deadline` (a time.monotonic() value).

    Returns the ids in the order received.
    """
    reader, writer, status, headers = await open_event_stream(host, port, token, after)
    try:
        if status != 200:
            body = await read_small_body(reader, headers)
            raise SetupError("replay of %s refused: HTTP %d %s" %
                             (EVENTS_PATH, status, body[:300].decode("utf-8", "replace")))
        body = BodyReader(reader, headers)
        parser = SseIdParser()
        ids = []
        last_progress = time.monotonic()
        while True:
            now = time.monotonic()
            highest = ids[-1] if ids else after
            if now >= deadline:
                break
            quiet = now - last_progress
            if quiet >= quiet_seconds and (highest >= at_least or quiet >= 10 * quiet_seconds):
                break
            try:
                data = await asyncio.wait_for(body.read(), timeout=0.2)
            except asyncio.TimeoutError:
                continue
            if not data:
                break
            new = parser.feed(data)
            if new:
                ids.extend(new)
                last_progress = time.monotonic()
        return ids
    finally:
        writer.close()


# ---------------------------------------------------------------------------------------------
# REST calls (http.client, one keep-alive connection per thread).


class RestClient:
    def __init__(self, host, port, timeout=60.0):
        self._host = host
        self._port = port
        self._timeout = timeout
        self._conn = None
        self.rate_limited = 0

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, token, body=None, retries_on_429=8):
        """Returns (status, headers, parsed JSON or raw bytes, seconds of the last attempt).

        429 answers are waited out (Retry-After) and retried; they are counted in rate_limited.
        """
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            status, response_headers, data, elapsed = self._once(method, path, headers, payload)
            if status != 429 or attempt >= retries_on_429:
                break
            self.rate_limited += 1
            attempt += 1
            try:
                delay = max(1.0, float(response_headers.get("retry-after", "1")))
            except ValueError:
                delay = 1.0
            time.sleep(delay)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return status, response_headers, parsed, elapsed

    def _once(self, method, path, headers, payload):
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port,
                                                        timeout=self._timeout)
            started = time.perf_counter()
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                # A keep-alive connection the server closed: one fresh try.
                self.close()
                if attempt == 1:
                    raise
                continue
            elapsed = time.perf_counter() - started
            response_headers = {k.lower(): v for k, v in response.getheaders()}
            if response_headers.get("connection", "").lower() == "close":
                self.close()
            return response.status, response_headers, data, elapsed
        raise AssertionError("unreachable")


def error_text(status, body):
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        e = body["error"]
        return "HTTP %d %s: %s" % (status, e.get("code"), str(e.get("message"))[:200])
    if isinstance(body, (bytes, bytearray)):
        body = body[:200].decode("utf-8", "replace")
    return "HTTP %d %s" % (status, str(body)[:200])


# ---------------------------------------------------------------------------------------------
# The server process.


class ServerProcess:
    def __init__(self, hpdeploy, data_dir, time_scale, extra_args, log_path):
        self.hpdeploy = hpdeploy
        self.data_dir = data_dir
        self.log_path = log_path
        # Each running InfraForge task (ecs:runTask.sync) holds a worker thread for the whole
        # deployment; at 50 a minute about 13 run at once, so 4 workers would queue them past
        # their timeoutSeconds. --server-arg=--workers=N overrides this.
        workers = [] if any(a.startswith("--workers") for a in extra_args) else ["--workers", "32"]
        self.args = [hpdeploy, "serve", "--port", "0", "--data-dir", data_dir,
                     "--time-scale", repr(time_scale)] + workers + list(extra_args)
        self.proc = None
        self.url = None
        self.host = None
        self.port = None
        self._log = None
        self._stdout_thread = None

    def start(self, timeout=60.0):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._log)
        found = {}
        ready = threading.Event()

        def pump():
            # Reads stdout for the announcement, then keeps draining it into the log so the
            # server never blocks on a full pipe.
            for line in self.proc.stdout:
                if "url" not in found:
                    m = re.search(rb"listening on (\S+)", line)
                    if m:
                        found["url"] = m.group(1).decode()
                        ready.set()
                self._log.write(b"[stdout] " + line)
                self._log.flush()
            ready.set()

        self._stdout_thread = threading.Thread(target=pump, daemon=True)
        self._stdout_thread.start()
        ready.wait(timeout)
        if "url" not in found:
            code = self.proc.poll()
            self.stop(5.0)
            raise SetupError("`%s` did not announce its URL within %.0f s (exit status %s); "
                             "its log:\n%s" % (" ".join(self.args), timeout, code,
                                               self.log_tail()))
        self.url = found["url"].rstrip("/")
        parsed = urllib.parse.urlsplit(self.url)
        self.host = parsed.hostname
        self.port = parsed.port
        if not self.host or not self.port:
            raise SetupError("cannot read host and port from %r" % self.url)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def stop(self, timeout=60.0):
        """SIGTERM, then SIGKILL after `timeout`. Returns (exit status, seconds to exit)."""
        if self.proc is None:
            return None, 0.0
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        seconds = time.monotonic() - started
        if self._stdout_thread is not None:
            self._stdout_thread.join(5.0)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode, seconds


class ProcessSampler:
    """Samples a process's RSS each second (and reads the kernel's peak, VmHWM)."""

    def __init__(self, pid, interval=1.0):
        self.pid = pid
        self.interval = interval
        self.max_rss_kib = 0
        self.last_rss_kib = 0
        self.hwm_kib = 0
        self.threads = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()

    def sample(self):
        status = read_proc_status(self.pid)
        if not status:
            return
        self.last_rss_kib = status.get("VmRSS", 0)
        self.max_rss_kib = max(self.max_rss_kib, self.last_rss_kib)
        self.hwm_kib = max(self.hwm_kib, status.get("VmHWM", 0))
        self.threads = status.get("Threads", self.threads)
        self.samples += 1

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def read_proc_status(pid):
    """VmRSS and VmHWM in KiB and Threads from /proc/PID/status; {} if the process is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM", "Threads"):
                    out[name] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return out


def read_cpu_seconds(pid):
    """User + system CPU seconds of a live process (/proc/PID/stat); None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# ---------------------------------------------------------------------------------------------
# The run.


def raise_quotas(hpdeploy, data_dir, region):
    """Raises every SageMaker quota of the sandbox account in `region` (hpdeploy sandbox quotas)."""
    sandbox = os.path.join(data_dir, "sandbox")
    listed = subprocess.run([hpdeploy, "sandbox", "quotas", "--sandbox-dir", sandbox,
                             "--region", region], capture_output=True, text=True)
    if listed.returncode != 0:
        raise SetupError("`hpdeploy sandbox quotas` failed (exit %d): %s" %
                         (listed.returncode, listed.stderr.strip()))
    sets = []
    for line in listed.stdout.splitlines():
        parts = line.split("  ", 2)
        if len(parts) == 3:
            sets += ["--set", "%s=%d" % (parts[2], RAISED_QUOTA)]
    raised = subprocess.run([hpdeploy, "sandbox", "quotas", "--sandbox-dir", sandbox,
                             "--region", region] + sets, capture_output=True, text=True)
    if raised.returncode != 0:
        raise SetupError("raising the sandbox quotas failed (exit %d): %s" %
                         (raised.returncode, raised.stderr.strip()))


def create_token(hpdeploy, data_dir, name, role):
    result = subprocess.run([hpdeploy, "token", "create", "--data-dir", data_dir, "--name", name,
                             "--role", role], stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=60)
    token = result.stdout.decode().strip()
    if result.returncode != 0 or not token or "\n" in token:
        raise SetupError("`hpdeploy token create --name %s --role %s` failed (exit %d): %s" %
                         (name, role, result.returncode,
                          result.stderr.decode("utf-8", "replace").strip()))
    return token


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Load benchmark of the hpdeploy platform REST API: SSE fan-out, deployment "
        "starts, REST latency, server RSS and CPU.")
    p.add_argument("--hpdeploy", required=True, help="path of the hpdeploy binary")
    p.add_argument("--sse-clients", type=int, default=200,
                   help="concurrent SSE clients on %s (default 200)" % EVENTS_PATH)
    p.add_argument("--rate", type=float, default=50.0,
                   help="deployment creates per minute (default 50)")
    p.add_argument("--minutes", type=float, default=2.0,
                   help="how long deployments are created (default 2)")
    p.add_argument("--time-scale", type=float, default=0.01,
                   help="serve --time-scale: simulated waits are multiplied by it (default 0.01)")
    p.add_argument("--probe-rate", type=float, default=4.0,
                   help="REST latency probes per second, alternating list and get (default 4)")
    p.add_argument("--sse-procs", type=int, default=1,
                   help="processes the SSE clients are spread over (default 1)")
    p.add_argument("--create-threads", type=int, default=0,
                   help="threads issuing creates (default: enough for the rate, at most 64)")
    p.add_argument("--settle-timeout", type=float, default=600.0,
                   help="seconds to wait for deployments to end after the last create "
                   "(default 600)")
    p.add_argument("--quiet-seconds", type=float, default=3.0,
                   help="an event stream counts as caught up after this long without events "
                   "(default 3)")
    p.add_argument("--connect-timeout", type=float, default=120.0,
                   help="seconds for all SSE clients to connect (default 120)")
    p.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for `hpdeploy serve` (repeatable), e.g. "
                   "--server-arg=--http-threads=2")
    p.add_argument("--data-dir", help="use this (new or empty) data dir instead of a temporary one;"
                   " it is kept")
    p.add_argument("--keep-data", action="store_true",
                   help="keep the temporary data dir (and serve.log in it)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    p.add_argument("--verbose", action="store_true", help="print every SSE client's counts")
    p.add_argument("--seed", type=int, default=1, help="seed for the probes' choice of jobIds")
    args = p.parse_args(argv)
    if args.sse_clients < 0:
        p.error("--sse-clients must be >= 0")
    for name in ("rate", "minutes", "probe_rate", "quiet_seconds", "settle_timeout",
                 "connect_timeout"):
        value = getattr(args, name)
        if not (value > 0) or math.isinf(value):
            p.error("--%s must be a positive number" % name.replace("_", "-"))
    if not (args.time_scale >= 0) or math.isinf(args.time_scale):
        p.error("--time-scale must be >= 0")
    if args.sse_procs < 1:
        p.error("--sse-procs must be >= 1")
    if args.create_threads < 0:
        p.error("--create-threads must be >= 0")
    if not os.access(args.hpdeploy, os.X_OK):
        p.error("--hpdeploy %s is not an executable file" % args.hpdeploy)
    return args


class Run:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.figures = {"parameters": {k: v for k, v in vars(args).items()}}
        self.failures = []  # checks that failed, for the exit status
        self.lock = threading.Lock()
        self.job_ids = []  # Guarded by lock.
        self.create_latency = []  # Guarded by lock.
        self.create_errors = {}  # text -> count. Guarded by lock.
        self.create_late = 0  # creates sent > 1 s after they were due. Guarded by lock.
        self.probe_latency = {"list": [], "get": []}  # Guarded by lock.
        self.probe_errors = {}  # Guarded by lock.
        self.rate_limited = 0  # Guarded by lock.
        self.workers = []  # (process, connection)
        self.server = None
        self.saved_log_tail = ""  # the server's log, kept for a failure report

    def log(self, text):
        print("[%7.1fs] %s" % (time.monotonic() - self.t0, text), flush=True)

    def main(self):
        self.t0 = time.monotonic()
        args = self.args
        temporary = args.data_dir is None
        data_dir = tempfile.mkdtemp(prefix="hpd-load-") if temporary else args.data_dir
        os.makedirs(data_dir, exist_ok=True)
        self.server = ServerProcess(os.path.abspath(args.hpdeploy), data_dir, args.time_scale,
                                    args.server_arg, os.path.join(data_dir, "serve.log"))
        try:
            self._run(data_dir)
        except BaseException:
            self.saved_log_tail = self.server.log_tail() if self.server.proc else ""
            raise
        finally:
            for process, conn in self.workers:
                if process.is_alive():
                    process.terminate()
                process.join(10)
            code, seconds = self.server.stop()
            self.figures.setdefault("server", {})["exit_status"] = code
            self.figures["server"]["shutdown_seconds"] = round(seconds, 2)
            if code not in (0, None):
                self.failures.append("the server exited with status %s" % code)
            if temporary and not args.keep_data:
                shutil.rmtree(data_dir, ignore_errors=True)
            else:
                print("data dir kept: %s (server log: serve.log)" % data_dir)

    def _run(self, data_dir):
        args = self.args
        n_sse_tokens = math.ceil(args.sse_clients / SSE_CLIENTS_PER_TOKEN)
        n_deployer_tokens = max(1, math.ceil(args.rate / 60.0 / PER_TOKEN_RATE))
        self.log("creating %d admin, %d deployer and 1 viewer tokens in %s" %
                 (n_sse_tokens + 1, n_deployer_tokens, data_dir))
        hp = self.server.hpdeploy
        self.admin = create_token(hp, data_dir, "load-admin", "admin")
        sse_tokens = [create_token(hp, data_dir, "load-sse-%d" % i, "admin")
                      for i in range(n_sse_tokens)]
        self.deployers = [create_token(hp, data_dir, "load-deployer-%d" % i, "deployer")
                          for i in range(n_deployer_tokens)]
        self.viewer = create_token(hp, data_dir, "load-viewer", "viewer")

        self.server.start()
        pid = self.server.proc.pid
        self.log("server pid %d listening on %s" % (pid, self.server.url))
        raise_quotas(hp, data_dir, REGION)
        self.sampler = ProcessSampler(pid)
        self.sampler.sample()
        self.sampler.start()
        cpu_at_start = read_cpu_seconds(pid) or 0.0
        self.figures["server"] = {"pid": pid, "url": self.server.url,
                                  "rss_at_start_kib": self.sampler.last_rss_kib}

        self._start_sse_clients(sse_tokens)
        baseline_ids = asyncio.run(replay_ids(
            self.server.host, self.server.port, self.admin, 0, min(1.0, args.quiet_seconds), 0,
            time.monotonic() + 30))
        self.baseline = max(baseline_ids) if baseline_ids else 0
        rss_before_load = self.sampler.last_rss_kib

        cpu_before_load = read_cpu_seconds(pid) or 0.0
        load_seconds = self._load_phase()
        cpu_after_load = read_cpu_seconds(pid) or 0.0
        settle_seconds = self._settle_phase()
        self._count_outcomes()
        self._check_events()
        cpu_at_end = read_cpu_seconds(pid)
        self.sampler.sample()
        self.sampler.stop()
        server = self.figures["server"]
        server.update({
            "rss_before_load_kib": rss_before_load,
            "rss_max_sampled_kib": self.sampler.max_rss_kib,
            "rss_peak_vmhwm_kib": self.sampler.hwm_kib,
            "rss_at_end_kib": self.sampler.last_rss_kib,
            "threads": self.sampler.threads,
            "cpu_seconds_total": None if cpu_at_end is None else round(cpu_at_end, 2),
            "cpu_seconds_startup_and_connects": round(cpu_before_load - cpu_at_start, 2),
            "cpu_seconds_load": round(cpu_after_load - cpu_before_load, 2),
            "cpu_load_fraction_of_one_core": round(
                (cpu_after_load - cpu_before_load) / load_seconds, 3) if load_seconds else None,
            "cpu_seconds_settle_and_check": None if cpu_at_end is None else round(
                cpu_at_end - cpu_after_load, 2),
        })
        self.figures["phases"] = {"load_seconds": round(load_seconds, 1),
                                  "settle_seconds": round(settle_seconds, 1)}
        self._print_report()

    # -- SSE ---------------------------------------------------------------------------------

    def _start_sse_clients(self, sse_tokens):
        args = self.args
        if args.sse_clients == 0:
            return
        context = multiprocessing.get_context("spawn")
        procs = min(args.sse_procs, args.sse_clients)
        specs = [[] for _ in range(procs)]
        for i in range(args.sse_clients):
            specs[i % procs].append((i, sse_tokens[i // SSE_CLIENTS_PER_TOKEN]))
        for part in specs:
            parent, child = context.Pipe()
            process = context.Process(target=sse_worker_main,
                                      args=(child, self.server.host, self.server.port, part),
                                      daemon=True)
            process.start()
            child.close()
            self.workers.append((process, parent))
        deadline = time.monotonic() + args.connect_timeout
        last_report = 0.0
        while True:
            status = self._sse_status()
            if status["connected"] == args.sse_clients:
                break
            now = time.monotonic()
            if now >= deadline:
                raise SetupError("only %d of %d SSE clients connected within %.0f s (last error: "
                                 "%s)" % (status["connected"], args.sse_clients,
                                          args.connect_timeout, status["last_error"]))
            if now - last_report >= 5:
                self.log("SSE clients connected: %d/%d" % (status["connected"], args.sse_clients))
                last_report = now
            time.sleep(0.2)
        self.log("all %d SSE clients connected (%d worker process%s)" %
                 (args.sse_clients, len(self.workers), "" if len(self.workers) == 1 else "es"))

    def _sse_status(self):
        total = {"clients": 0, "connected": 0, "events": 0, "min_last_id": None,
                 "max_last_id": 0, "reconnects": 0, "errors": 0, "last_error": ""}
        for process, conn in self.workers:
            if not process.is_alive():
                raise SetupError("an SSE worker process died (exit code %s)" % process.exitcode)
            conn.send(("status", None))
            s = conn.recv()
            for key in ("clients", "connected", "events", "reconnects", "errors"):
                total[key] += s[key]
            total["max_last_id"] = max(total["max_last_id"], s["max_last_id"])
            if total["min_last_id"] is None or s["min_last_id"] < total["min_last_id"]:
                total["min_last_id"] = s["min_last_id"]
            total["last_error"] = total["last_error"] or s["last_error"]
        if total["min_last_id"] is None:
            total["min_last_id"] = 0
        return total

    # -- load --------------------------------------------------------------------------------

    def _load_phase(self):
        args = self.args
        per_second = args.rate / 60.0
        total = int(round(args.rate * args.minutes))
        threads = args.create_threads or min(64, max(4, math.ceil(per_second * 0.5)))
        self.log("creating %d deployments at %.1f/min (%d threads), probing REST at %.1f/s" %
                 (total, args.rate, threads, args.probe_rate))
        local = threading.local()
        clients = []

        def client():
            if not hasattr(local, "client"):
                local.client = RestClient(self.server.host, self.server.port)
                with self.lock:
                    clients.append(local.client)
            return local.client

        def create(i, due):
            late = time.monotonic() - due
            token = self.deployers[i % len(self.deployers)]
            try:
                status, _, body, elapsed = client().request("POST", DEPLOYMENTS_PATH, token,
                                                            CREATE_BODY)
            except Exception as e:  # noqa: BLE001 - counted and shown, never lost in the pool
                status, body, elapsed = None, "%s: %s" % (type(e).__name__, e), None
            with self.lock:
                if late > 1.0:
                    self.create_late += 1
                if status in (200, 202) and isinstance(body, dict) and body.get("jobId"):
                    self.job_ids.append(body["jobId"])
                    self.create_latency.append(elapsed)
                else:
                    text = error_text(status, body) if status else str(body)
                    self.create_errors[text] = self.create_errors.get(text, 0) + 1

        stop_probes = threading.Event()
        prober = threading.Thread(target=self._probe_loop, args=(stop_probes,), daemon=True)
        started = time.monotonic()
        prober.start()
        next_report = started + 10
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for i in range(total):
                due = started + i / per_second
                while True:
                    now = time.monotonic()
                    if now >= next_report:
                        self._progress("load")
                        next_report += 10
                    if now >= due:
                        break
                    time.sleep(min(due - now, max(0.0, next_report - now), 0.05))
                pool.submit(create, i, due)
        load_seconds = time.monotonic() - started
        stop_probes.set()
        prober.join()
        with self.lock:
            self.rate_limited += sum(c.rate_limited for c in clients)
            for c in clients:
                c.close()
        self.log("creates done: %d accepted in %.1f s" % (len(self.job_ids), load_seconds))
        return load_seconds

    def _probe_loop(self, stop):
        rest = RestClient(self.server.host, self.server.port)
        interval = 1.0 / self.args.probe_rate
        next_due = time.monotonic()
        kind = "list"
        while not stop.is_set():
            with self.lock:
                job_id = self.rng.choice(self.job_ids) if self.job_ids else None
            if kind == "get" and job_id is None:
                kind = "list"
            path = DEPLOYMENTS_PATH if kind == "list" else DEPLOYMENTS_PATH + "/" + job_id
            try:
                status, _, body, elapsed = rest.request("GET", path, self.viewer)
                error = None if status == 200 else error_text(status, body)
            except (OSError, http.client.HTTPException) as e:
                error, elapsed = "%s: %s" % (type(e).__name__, e), None
            with self.lock:
                if error is None:
                    self.probe_latency[kind].append(elapsed)
                else:
                    key = "%s: %s" % (kind, error)
                    self.probe_errors[key] = self.probe_errors.get(key, 0) + 1
            kind = "get" if kind == "list" else "list"
            next_due += interval
            stop.wait(max(0.0, next_due - time.monotonic()))
        with self.lock:
            self.rate_limited += rest.rate_limited
        rest.close()

    def _progress(self, phase):
        with self.lock:
            created = len(self.job_ids)
            errors = sum(self.create_errors.values())
        text = "%s: %d created, %d create errors, server RSS %.1f MiB" % (
            phase, created, errors, self.sampler.last_rss_kib / 1024.0)
        if self.workers:
            s = self._sse_status()
            text += ", SSE events %d (reconnects %d)" % (s["events"], s["reconnects"])
        self.log(text)

    # -- settle and count --------------------------------------------------------------------

    def _settle_phase(self):
        args = self.args
        rest = RestClient(self.server.host, self.server.port)
        started = time.monotonic()
        deadline = started + args.settle_timeout
        next_report = started + 10
        running = None
        try:
            while time.monotonic() < deadline:
                status, _, body, _ = rest.request(
                    "GET", DEPLOYMENTS_PATH + "?status=RUNNING&limit=100", self.viewer)
                if status != 200:
                    raise SetupError("listing RUNNING deployments failed: %s" %
                                     error_text(status, body))
                running = len(body.get("deployments", []))
                if running == 0:
                    break
                if time.monotonic() >= next_report:
                    self.log("waiting: %s%d deployments RUNNING" %
                             ("over " if body.get("nextToken") else "", running))
                    next_report += 10
                time.sleep(0.5)
        finally:
            with self.lock:
                self.rate_limited += rest.rate_limited
            rest.close()
        seconds = time.monotonic() - started
        if running:
            self.failures.append("deployments still RUNNING %.0f s after the last create" %
                                 args.settle_timeout)
        self.log("deployments settled in %.1f s" % seconds)
        return seconds

    def _count_outcomes(self):
        rest = RestClient(self.server.host, self.server.port)
        ours = set(self.job_ids)
        statuses = {}
        listed = 0
        token = None
        try:
            while True:
                path = DEPLOYMENTS_PATH + "?limit=100"
                if token:
                    path += "&nextToken=" + urllib.parse.quote(token, safe="")
                status, _, body, _ = rest.request("GET", path, self.viewer)
                if status != 200:
                    raise SetupError("listing deployments failed: %s" % error_text(status, body))
                for d in body.get("deployments", []):
                    if d.get("jobId") in ours:
                        listed += 1
                        statuses[d.get("status")] = statuses.get(d.get("status"), 0) + 1
                token = body.get("nextToken")
                if not token:
                    break
                time.sleep(1.0 / 15)  # under the viewer token's 20/s
        finally:
            with self.lock:
                self.rate_limited += rest.rate_limited
            rest.close()
        self.figures["deployments"] = {
            "planned": int(round(self.args.rate * self.args.minutes)),
            "started": len(self.job_ids),
            "create_errors": dict(self.create_errors),
            "sent_over_1s_late": self.create_late,
            "listed": listed,
            "by_status": statuses,
            "succeeded": statuses.get("SUCCEEDED", 0),
        }
        if listed != len(ours):
            self.failures.append("%d deployments were accepted but %d are listed" %
                                 (len(ours), listed))
        if self.create_errors:
            self.failures.append("%d creates failed" % sum(self.create_errors.values()))

    # -- events ------------------------------------------------------------------------------

    def _check_events(self):
        args = self.args
        if not self.workers:
            return
        # The clients may still be catching up: wait until each has the last id any of them saw,
        # or until nothing moves for --quiet-seconds.
        status = self._sse_status()
        last_events, last_change = status["events"], time.monotonic()
        while status["min_last_id"] < status["max_last_id"]:
            if time.monotonic() - last_change >= args.quiet_seconds:
                break
            time.sleep(0.2)
            status = self._sse_status()
            if status["events"] != last_events:
                last_events, last_change = status["events"], time.monotonic()
        self.log("replaying the global stream from Last-Event-ID: 0")
        started = time.monotonic()
        expected = asyncio.run(replay_ids(self.server.host, self.server.port, self.admin, 0,
                                          args.quiet_seconds, status["max_last_id"],
                                          time.monotonic() + args.settle_timeout))
        replay_seconds = time.monotonic() - started
        replay_check = check_sequence(expected, expected, 0)
        if replay_check["duplicated"] or replay_check["out_of_order"]:
            self.failures.append("the replay itself has %d duplicated and %d out-of-order ids" %
                                 (replay_check["duplicated"], replay_check["out_of_order"]))
        run_events = sorted(set(s for s in expected if s > self.baseline))
        results = []
        cpu = 0.0
        for process, conn in self.workers:
            conn.send(("finish", (self.baseline, run_events)))
            reply = conn.recv()
            results.extend(reply["clients"])
            cpu += reply["cpu_seconds"]
            process.join(30)
        self.workers = []
        results.sort(key=lambda r: r["client"])
        totals = {k: sum(r[k] for r in results)
                  for k in ("lost", "duplicated", "out_of_order", "unexpected", "reconnects")}
        clients_with_problems = [r for r in results if r["lost"] or r["duplicated"] or
                                 r["out_of_order"] or r["unexpected"]]
        self.figures["events"] = {
            "baseline_id": self.baseline,
            "replayed": len(expected),
            "in_run": len(run_events),
            "replay_seconds": round(replay_seconds, 1),
            "replay_duplicated": replay_check["duplicated"],
            "replay_out_of_order": replay_check["out_of_order"],
            "clients": len(results),
            "clients_with_problems": len(clients_with_problems),
            "totals": totals,
            "per_client": results,
            "client_cpu_seconds": round(cpu, 2),
        }
        if clients_with_problems:
            self.failures.append("%d of %d SSE clients did not see every event exactly once in "
                                 "order" % (len(clients_with_problems), len(results)))

    # -- report ------------------------------------------------------------------------------

    def _print_report(self):
        f = self.figures
        with self.lock:
            f["rest_latency"] = {
                "list": latency_summary(self.probe_latency["list"]),
                "get": latency_summary(self.probe_latency["get"]),
                "all": latency_summary(self.probe_latency["list"] + self.probe_latency["get"]),
                "create": latency_summary(self.create_latency),
                "probe_errors": dict(self.probe_errors),
                "rate_limited_retries": self.rate_limited,
            }
        if self.probe_errors:
            self.failures.append("%d latency probes failed" % sum(self.probe_errors.values()))

        d = f["deployments"]
        print()
        print("== platform load: %d SSE clients, %.1f creates/min for %.1f min, time scale %g ==" %
              (self.args.sse_clients, self.args.rate, self.args.minutes, self.args.time_scale))
        print("deployments: %d planned, %d started, %d succeeded; by status %s; create errors %d; "
              "sent >1 s late %d" % (d["planned"], d["started"], d["succeeded"],
                                     json.dumps(d["by_status"], sort_keys=True),
                                     sum(d["create_errors"].values()), d["sent_over_1s_late"]))
        for text, count in sorted(d["create_errors"].items(), key=lambda kv: -kv[1])[:5]:
            print("  create error x%d: %s" % (count, text))
        print("phases: load %.1f s, settle %.1f s" % (f["phases"]["load_seconds"],
                                                       f["phases"]["settle_seconds"]))
        e = f.get("events")
        if e:
            t = e["totals"]
            print("events: %d in the run (%d replayed in %.1f s); %d clients, %d with problems; "
                  "lost %d, duplicated %d, out of order %d, unexpected %d; reconnects %d; "
                  "client CPU %.1f s" % (e["in_run"], e["replayed"], e["replay_seconds"],
                                         e["clients"], e["clients_with_problems"], t["lost"],
                                         t["duplicated"], t["out_of_order"], t["unexpected"],
                                         t["reconnects"], e["client_cpu_seconds"]))
            shown = e["per_client"] if self.args.verbose else [
                r for r in e["per_client"] if r["lost"] or r["duplicated"] or r["out_of_order"]
                or r["unexpected"] or r["reconnects"]][:20]
            if shown:
                print("  client   seen   lost  dup  order  unexp  reconn  last error")
                for r in shown:
                    print("  %6d %6d %6d %4d %6d %6d %7d  %s" % (
                        r["client"], r["seen"], r["lost"], r["duplicated"], r["out_of_order"],
                        r["unexpected"], r["reconnects"], r["last_error"][:60]))
            lost = sorted(r["lost"] for r in e["per_client"])
            dup = sorted(r["duplicated"] for r in e["per_client"])
            if lost:
                print("  per client: lost min/median/max %d/%d/%d, duplicated min/median/max "
                      "%d/%d/%d" % (lost[0], percentile(lost, 50), lost[-1], dup[0],
                                    percentile(dup, 50), dup[-1]))
            load = f["phases"]["load_seconds"]
            if load and e["client_cpu_seconds"] > 0.8 * (load + f["phases"]["settle_seconds"]):
                print("  note: the SSE clients used most of a core; raise --sse-procs if their "
                      "reconnects or lag matter")
        r = f["rest_latency"]
        for kind in ("list", "get", "all", "create"):
            s = r[kind]
            print("REST %-6s n=%-6d p50 %s  p90 %s  p99 %s  max %s (ms)" % (
                kind, s["count"], s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"]))
        print("REST errors: %d probe errors, %d 429 retries" % (
            sum(r["probe_errors"].values()), r["rate_limited_retries"]))
        s = f["server"]
        print("server: RSS start %.1f MiB, before load %.1f MiB, max sampled %.1f MiB, peak "
              "(VmHWM) %.1f MiB, end %.1f MiB; threads %d" % (
                  s["rss_at_start_kib"] / 1024, s["rss_before_load_kib"] / 1024,
                  s["rss_max_sampled_kib"] / 1024, s["rss_peak_vmhwm_kib"] / 1024,
                  s["rss_at_end_kib"] / 1024, s["threads"]))
        print("server CPU: %s s total, %.1f s during load (%.0f%% of one core), %s s settling "
              "and checking" % (s["cpu_seconds_total"], s["cpu_seconds_load"],
                                100 * (s["cpu_load_fraction_of_one_core"] or 0),
                                s["cpu_seconds_settle_and_check"]))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run = Run(args)
    try:
        run.main()
    except SetupError as e:
        print("platform_load: %s" % e, file=sys.stderr)
        if run.saved_log_tail:
            print("server log tail:\n%s" % run.saved_log_tail, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("platform_load: interrupted", file=sys.stderr)
        return 2
    # The shutdown figures arrive after the report (Run.main's finally).
    s = run.figures.get("server", {})
    print("server shutdown (SIGTERM): exit status %s after %.1f s" % (
        s.get("exit_status"), s.get("shutdown_seconds", 0.0)))
    run.figures["ok"] = not run.failures
    run.figures["failures"] = list(run.failures)
    print("result: %s" % ("OK" if not run.failures else "FAILED: " + "; ".join(run.failures)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(run.figures, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0 if not run.failures else 1


if __name__ == "__main__":
    sys.exit(main())
