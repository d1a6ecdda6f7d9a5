"""`hpdeploy serve` as a child process on a free loopback port, and a boto3 client for it; the
platform's two topologies (one embedded server, or a backend driving an engine over HTTP)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile

import boto3
import botocore.config

HPDEPLOY = os.environ.get("HPDEPLOY", "build/bin/hpdeploy")
REGION = "us-east-1"


class Server:
    """Starts `hpdeploy serve --port 0 --data-dir DIR --time-scale X [extra...]`.

    stderr (the JSON log) is kept in a pipe when `keep_log`, else discarded: a long run logs
    more than a pipe holds.
    """

    def __init__(self, data_dir, time_scale="1", extra=(), keep_log=False, port=0, env=None,
                 log_path=None):
        self.data_dir = data_dir
        self.time_scale = time_scale
        self.extra = list(extra)
        self.keep_log = keep_log
        self.port = port  # 0: any free port; a fixed one survives restarts
        self.env = env  # extra environment variables
        self.log_path = log_path  # stderr appended here (survives restarts), unless keep_log
        self.process = None
        self.url = None

    def start(self):
        env = None
        if self.env:
            env = dict(os.environ)
            env.update(self.env)
        log = None
        if self.log_path and not self.keep_log:
            log = open(self.log_path, "a")
        try:
            self.process = subprocess.Popen(
                [HPDEPLOY, "serve", "--port", str(self.port), "--data-dir", self.data_dir,
                 "--time-scale", self.time_scale, *self.extra],
                stdout=subprocess.PIPE,
                stderr=(subprocess.PIPE if self.keep_log else log or subprocess.DEVNULL),
                text=True, env=env)
        finally:
            if log:
                log.close()
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.kill()
            self.process.wait()
            log = self.process.stderr.read() if self.keep_log else self.log_tail()
            raise RuntimeError("server did not start: " + line + log)
        self.url = line.strip().rsplit(" ", 1)[-1]
        return self

    def log_tail(self, lines=40):
        """The end of the server's log file, for failure messages."""
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signals the server and waits; returns its exit code."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.process.stdout.close()
        if self.keep_log:
            self.process.stderr.close()
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)


def client(url, **config):
    """A Step Functions client for `url` that does not retry (tests see every error)."""
    options = {"retries": {"max_attempts": 1}}
    options.update(config)
    return boto3.client(
        "stepfunctions", endpoint_url=url, region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(**options))


def free_port():
    """A loopback port nothing listens on now (for servers restarted on the same port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_token(data_dir, name, role):
    """`hpdeploy token create`: the token (printed alone on stdout)."""
    p = subprocess.run([HPDEPLOY, "token", "create", "--data-dir", data_dir, "--name", name,
                        "--role", role], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"token create {name} {role}: exit {p.returncode}: {p.stderr}")
    return p.stdout.strip()


def sandbox_resources(engine_data_dir, job_id):
    """What the sandbox cloud of the engine holds for `job_id` (hpdeploy sandbox resources)."""
    import json
    p = subprocess.run([HPDEPLOY, "sandbox", "resources", "--sandbox-dir",
                        os.path.join(engine_data_dir, "sandbox"), "--job", job_id, "--json"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"sandbox resources {job_id}: exit {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)["resources"]


# Platform test servers: fast workflows, many workers, and a rate limit no test reaches unless
# it means to.
PLATFORM_TIME_SCALE = "0.01"
PLATFORM_FLAGS = ["--workers", "8", "--rate-limit-per-second", "10000",
                  "--rate-limit-burst", "10000"]


def merge_flags(defaults, overrides):
    """`defaults` ("--flag value" pairs) without the flags `overrides` sets, then `overrides`
    (serve refuses an option given twice)."""
    overrides = list(overrides)
    given = {f for f in overrides if f.startswith("--")}
    out, i = [], 0
    defaults = list(defaults)
    while i < len(defaults):
        flag = defaults[i]
        takes_value = i + 1 < len(defaults) and not defaults[i + 1].startswith("--")
        pair = defaults[i:i + 2] if takes_value else defaults[i:i + 1]
        if flag not in given:
            out += pair
        i += len(pair)
    return out + overrides


class Topology:
    """The platform as tests see it: `api_url` (the REST API), `engine_url` (the Step Functions
    API that runs the workflows), `engine_data_dir` (the engine's data dir: its sandbox),
    `api_data_dir` (where tokens are created). Subclasses: Embedded, Split.

    `api_flags` go to the server that serves the REST API, `engine_flags` to the engine.
    """

    name = "?"

    def __init__(self, api_flags=(), engine_flags=(), time_scale=PLATFORM_TIME_SCALE):
        self.root = tempfile.mkdtemp(prefix=f"hpd-platform-{self.name}-")
        self.api_flags = merge_flags(PLATFORM_FLAGS, api_flags)
        self.engine_flags = merge_flags(PLATFORM_FLAGS, engine_flags)
        self.engine_extra = list(engine_flags)
        self.time_scale = time_scale

    def token(self, name, role):
        return create_token(self.api_data_dir, name, role)

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self):
        """The servers' log tails, for failure messages."""
        return "\n".join(f"--- {s.log_path}\n{s.log_tail()}" for s in self.servers())


class Embedded(Topology):
    """One `hpdeploy serve`: the REST API and the engine in one process."""

    name = "embedded"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.data_dir = os.path.join(self.root, "data")
        os.makedirs(self.data_dir)
        self.server = Server(self.data_dir, self.time_scale,
                             merge_flags(self.api_flags, self.engine_extra), port=free_port(),
                             log_path=os.path.join(self.root, "serve.log"))
        self.api_data_dir = self.engine_data_dir = self.data_dir

    def servers(self):
        return [self.server]

    def start(self):
        self.server.start()
        self.api_url = self.engine_url = self.server.url
        return self

    def stop(self):
        if self.server.process and self.server.process.poll() is None:
            self.server.stop()

    def restart(self):
        """SIGTERM, then the same data dir and port."""
        self.server.stop()
        self.server.start()


class Split(Topology):
    """A backend `hpdeploy serve --workflow-endpoint` (the REST API) driving an engine
    `hpdeploy serve --event-target` (the workflows) over the Step Functions API; the engine
    forwards its events to the backend's POST /api/v1/events with an admin token of the
    backend."""

    name = "split"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.engine_data_dir = os.path.join(self.root, "engine")
        self.api_data_dir = os.path.join(self.root, "backend")
        os.makedirs(self.engine_data_dir)
        os.makedirs(self.api_data_dir)
        self.engine_port = free_port()
        self.backend_port = free_port()
        while self.backend_port == self.engine_port:
            self.backend_port = free_port()
        self.engine = None
        self.backend = None

    def servers(self):
        return [s for s in (self.engine, self.backend) if s is not None]

    def start(self):
        target_token = create_token(self.api_data_dir, "event-target", "admin")
        self.engine = Server(
            self.engine_data_dir, self.time_scale,
            self.engine_flags + ["--event-target",
                                 f"http://127.0.0.1:{self.backend_port}/api/v1/events"],
            port=self.engine_port, env={"HPD_EVENT_TARGET_TOKEN": target_token},
            log_path=os.path.join(self.root, "engine.log"))
        self.backend = Server(
            self.api_data_dir, self.time_scale,
            self.api_flags + ["--workflow-endpoint", f"http://127.0.0.1:{self.engine_port}",
                              "--sandbox-data-dir", self.engine_data_dir],
            port=self.backend_port, log_path=os.path.join(self.root, "backend.log"))
        self.engine.start()
        self.backend.start()
        self.api_url = self.backend.url
        self.engine_url = self.engine.url
        return self

    def stop(self):
        for s in (self.backend, self.engine):
            if s and s.process and s.process.poll() is None:
                s.stop()

    def restart(self):
        """SIGTERM both, then both again on the same data dirs and ports."""
        self.backend.stop()
        self.engine.stop()
        self.engine.start()
        self.backend.start()


TOPOLOGIES = {"embedded": Embedded, "split": Split}


def topology_enabled(name):
    """HPD_TOPOLOGY=embedded|split runs only that one; unset: both."""
    wanted = os.environ.get("HPD_TOPOLOGY", "")
    return not wanted or wanted == name
