"""`hpdeploy serve` as a child process on a free loopback port, and a boto3 client for it."""

import os
import signal
import subprocess

import boto3
import botocore.config

HPDEPLOY = os.environ.get("HPDEPLOY", "build/bin/hpdeploy")
REGION = "us-east-1"


class Server:
    """Starts `hpdeploy serve --port 0 --data-dir DIR --time-scale X [extra...]`.

    stderr (the JSON log) is kept in a pipe when `keep_log`, else discarded: a long run logs
    more than a pipe holds.
    """

    def __init__(self, data_dir, time_scale="1", extra=(), keep_log=False):
        self.data_dir = data_dir
        self.time_scale = time_scale
        self.extra = list(extra)
        self.keep_log = keep_log
        self.process = None
        self.url = None

    def start(self):
        self.process = subprocess.Popen(
            [HPDEPLOY, "serve", "--port", "0", "--data-dir", self.data_dir,
             "--time-scale", self.time_scale, *self.extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if self.keep_log else subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.process.kill()
            log = self.process.stderr.read() if self.keep_log else ""
            raise RuntimeError("server did not start: " + line + log)
        self.url = line.strip().rsplit(" ", 1)[-1]
        return self

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
