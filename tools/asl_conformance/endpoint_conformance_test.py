"""ctest `conformance_endpoint`: the conformance corpus through `hpdeploy serve` passes exactly as
many cases as in memory (issue acceptance: "asl-conformance --endpoint URL runs the corpus through
the server with the same pass rate as in memory").

Runs `asl-conformance CASES` (in memory), then starts `hpdeploy serve` on a free loopback port
with a fresh data dir and the corpus's Lambda functions, runs `asl-conformance CASES --endpoint
URL` against it, and compares the two summaries ("N known differences", "N passed, N failed, N
skipped") and exit codes. The server is stopped (SIGTERM, then SIGKILL) whatever happens, and is
told by the kernel to terminate if this script dies first.

Time scale: the corpus's one StopExecution test (api_misc/test_sfn_api.test_stop_execution) stops
a 60 s Wait once the history has stopped growing for asl-conformance's --idle-ms (100 ms), so the
scaled wait must be well above that: 0.02 makes it 1.2 s (and a Lambda's 60 s sleep 1.2 s).
"""
import argparse
import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

TIME_SCALE = "0.02"
# The corpus's account, so that ARNs written into definitions name the server's own account (as
# the in-memory run's identity does).
ACCOUNT_ID = "111111111111"
START_TIMEOUT_S = 30
RUN_TIMEOUT_S = 600
STOP_TIMEOUT_S = 15

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", re.M)
KNOWN = re.compile(r"^(\d+) known differences \((\d+) of them now pass\)$", re.M)


def die_with_parent():
    """Runs in the child before exec: SIGTERM it when this script's thread exits (PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def summary(name, output):
    found = SUMMARY.findall(output)
    if len(found) != 1:
        raise AssertionError(f"{name}: no single summary line in its output:\n{output}")
    known = KNOWN.findall(output)
    return {"passed": int(found[0][0]), "failed": int(found[0][1]), "skipped": int(found[0][2]),
            "known": int(known[0][0]) if known else 0,
            "known_now_passing": int(known[0][1]) if known else 0}


def run(name, argv):
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise AssertionError(f"{name} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    result = summary(name, done.stdout)
    print(f"{name}: {SUMMARY.search(done.stdout).group(0)} (exit {done.returncode}, "
          f"{seconds:.1f} s)")
    return result, done


class Server:
    """`hpdeploy serve` on a free loopback port, stopped on exit from the `with` block."""

    def __init__(self, hpdeploy, data_dir, cases, log_path):
        self.argv = [hpdeploy, "serve", "--port", "0", "--data-dir", data_dir,
                     "--time-scale", TIME_SCALE, "--account-id", ACCOUNT_ID,
                     "--corpus-functions", cases]
        self.log_path = log_path
        self.process = None

    def __enter__(self):
        log = open(self.log_path, "wb")
        try:
            self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=log,
                                            preexec_fn=die_with_parent)
        finally:
            log.close()
        line = b""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([self.process.stdout], [], [], max(0.0, remaining))
            if not readable:
                raise AssertionError(f"hpdeploy serve did not start within {START_TIMEOUT_S} s")
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                raise AssertionError("hpdeploy serve exited before listening:\n" + self.log())
            line += chunk
        match = re.match(rb"hpdeploy serve: listening on (http://\S+)", line)
        if not match:
            raise AssertionError(f"unexpected first line from hpdeploy serve: {line!r}")
        return match.group(1).decode()

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        """SIGTERM, then SIGKILL; the exit code (or None if it was never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        return self.process.returncode

    def log(self):
        if not os.path.exists(self.log_path):
            return "(none)"
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asl-conformance", required=True)
    parser.add_argument("--hpdeploy", required=True)
    shared = os.environ.get("HPD_SHARED_DIR") or "../shared"
    parser.add_argument("--cases", default=os.path.join(shared, "conformance", "cases"))
    args = parser.parse_args()
    # ctest's timeout sends SIGTERM: leave through the finally blocks, which stop the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))

    in_memory, in_memory_done = run("in memory", [args.asl_conformance, args.cases])
    with tempfile.TemporaryDirectory(prefix="hpd-conformance-endpoint-") as tmp:
        server = Server(args.hpdeploy, os.path.join(tmp, "data"), args.cases,
                        os.path.join(tmp, "serve.log"))
        try:
            with server as url:
                endpoint, endpoint_done = run(
                    "endpoint", [args.asl_conformance, args.cases, "--endpoint", url])
            exit_code = server.stop()
            if exit_code != 0:
                raise AssertionError(f"hpdeploy serve exited with {exit_code} after SIGTERM")
        except BaseException:
            print("hpdeploy serve log:\n" + server.log(), file=sys.stderr)
            raise

    if endpoint != in_memory or endpoint_done.returncode != in_memory_done.returncode:
        print(f"MISMATCH\nin memory: {in_memory}\nendpoint:  {endpoint}\n"
              f"endpoint output:\n{endpoint_done.stdout}", file=sys.stderr)
        return 1
    if in_memory["passed"] == 0:
        print("no case passed: the comparison proves nothing", file=sys.stderr)
        return 1
    print(f"same results: {endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
