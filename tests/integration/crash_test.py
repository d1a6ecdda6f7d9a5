"""Crash test: `hpdeploy serve` killed with SIGKILL at random moments loses nothing.

500 executions of four state machines mixing Task, Wait, Map and Parallel run while the server
is killed (kill -9) ten times at random moments and restarted on the same data dir. The tasks
call `witness` functions (src/engine/witness_functions.h), which append one line per invocation
to a log outside the journal. Afterwards:
  - every execution exists exactly once and SUCCEEDED with the output its input implies;
  - every task invocation whose result was recorded ran exactly once per process, and ran
    again only in a later process after the one that ran it was killed (an in-flight task may
    repeat, always with the same idempotency key).

Run by ctest with HPDEPLOY set; CRASH_TEST_SEED makes a run reproducible (the seed is printed).
"""

import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import botocore.exceptions

import serving

HPDEPLOY = os.environ.get("HPDEPLOY", "build/bin/hpdeploy")
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn"
WITNESS = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:witness"
WITNESS_SLOW = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:witness_slow"
# A bench function with no outside effect: the engine runs it inside the step (local_only).
PREPARE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:prepare"
EXECUTIONS = 500
KILLS = 10

MACHINES = {
    "chain": {
        "StartAt": "T1", "States": {
            "T1": {"Type": "Task", "Resource": WITNESS, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 2, "Next": "T2"},
            "T2": {"Type": "Task", "Resource": WITNESS_SLOW, "Next": "P"},
            "P": {"Type": "Task", "Resource": PREPARE, "ResultPath": "$.prepared",
                  "End": True}}},
    "map": {
        "StartAt": "M", "States": {"M": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3, "End": True,
            "ItemProcessor": {"StartAt": "W", "States": {
                "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
                "T": {"Type": "Task", "Resource": WITNESS_SLOW, "End": True}}}}}},
    "parallel": {
        "StartAt": "P", "States": {"P": {
            "Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": WITNESS,
                                                  "End": True}}},
                {"StartAt": "W", "States": {
                    "W": {"Type": "Wait", "Seconds": 1, "Next": "B"},
                    "B": {"Type": "Task", "Resource": WITNESS_SLOW, "End": True}}}]}}},
    "mixed": {
        "StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Result": [1, 2], "ResultPath": "$.items", "Next": "T"},
            "T": {"Type": "Task", "Resource": WITNESS_SLOW, "ResultPath": "$.first",
                  "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped", "End": True,
                  "ItemProcessor": {"StartAt": "I", "States": {
                      "I": {"Type": "Task", "Resource": WITNESS, "End": True}}}}}},
}


def plan(i):
    """The machine, input and expected output of execution i."""
    kind = list(MACHINES)[i % len(MACHINES)]
    if kind == "chain":
        data = {"id": i}
        return kind, data, {"id": i, "witnessed": True,
                            "prepared": {"plan": "plan-undefined-undefined", "ready": True}}
    if kind == "map":
        data = {"items": [{"k": i * 10 + j} for j in range(4)]}
        return kind, data, [{"k": i * 10 + j, "witnessed": True} for j in range(4)]
    if kind == "parallel":
        data = {"id": i}
        return kind, data, [{"id": i, "witnessed": True}, {"id": i, "witnessed": True}]
    data = {"id": i}
    return kind, data, {
        "id": i, "items": [1, 2],
        "first": {"id": i, "items": [1, 2], "witnessed": True},
        "mapped": [{"value": 1, "witnessed": True}, {"value": 2, "witnessed": True}]}


class Server(serving.Server):
    def __init__(self, data_dir, log):
        super().__init__(data_dir, "0.02", ["--workers", "8", "--witness-log", log])

    def kill(self):
        """Kills the server; returns its pid and the wall time just before the signal."""
        pid = self.process.pid
        at = time.time()
        self.stop(signal.SIGKILL)
        return pid, at


def client(url):
    return serving.client(url, connect_timeout=2, read_timeout=10)


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hpd_crash_")
        self.log = os.path.join(self.dir, "witness.log")
        self.server = Server(os.path.join(self.dir, "data"), self.log).start()
        self.lock = threading.Lock()
        self.url = self.server.url

    def tearDown(self):
        if self.server.process.poll() is None:
            self.server.process.kill()
            self.server.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def current_client(self):
        with self.lock:
            return client(self.url)

    def call(self, fn):
        """Retries `fn(sfn)` across server restarts (connection errors)."""
        deadline = time.monotonic() + 120
        while True:
            try:
                return fn(self.current_client())
            except (botocore.exceptions.EndpointConnectionError,
                    botocore.exceptions.ConnectionClosedError,
                    botocore.exceptions.ReadTimeoutError) as e:
                if time.monotonic() > deadline:
                    raise AssertionError(f"server unreachable: {e}")
                time.sleep(0.05)

    def start_all(self, machine_arns, failures):
        for i in range(EXECUTIONS):
            kind, data, _ = plan(i)

            def start(sfn, i=i, kind=kind, data=data):
                try:
                    sfn.start_execution(stateMachineArn=machine_arns[kind], name=f"e{i}",
                                        input=json.dumps(data))
                except botocore.exceptions.ClientError as e:
                    # The start committed before the kill and the execution already ended:
                    # the retried request meets the closed execution.
                    if e.response["Error"]["Code"] != "ExecutionAlreadyExists":
                        failures.append((i, str(e)))
            self.call(start)

    def test_kill_9_at_random_moments_loses_and_duplicates_nothing(self):
        seed = int(os.environ.get("CRASH_TEST_SEED", random.randrange(1 << 30)))
        print(f"\ncrash test seed: {seed}", file=sys.stderr)
        rng = random.Random(seed)

        machine_arns = {}
        sfn = client(self.url)
        for kind, definition in MACHINES.items():
            machine_arns[kind] = sfn.create_state_machine(
                name=kind, roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]

        failures = []
        starter = threading.Thread(target=self.start_all, args=(machine_arns, failures))
        starter.start()
        killed = {}  # pid -> wall time of its kill
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.6))
            pid, at = self.server.kill()
            killed[pid] = at
            self.server.start()
            with self.lock:
                self.url = self.server.url
        starter.join()
        self.assertEqual(failures, [])

        # Everything ends.
        sfn = self.current_client()
        deadline = time.monotonic() + 120
        while True:
            running = sum(len(sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING",
                                                  maxResults=1000)["executions"])
                          for arn in machine_arns.values())
            if running == 0:
                break
            self.assertLess(time.monotonic(), deadline, f"{running} executions still running")
            time.sleep(0.1)

        # Exactly once each, with the right output.
        executions = {}
        for arn in machine_arns.values():
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for e in page["executions"]:
                    self.assertNotIn(e["name"], executions, "listed twice")
                    executions[e["name"]] = e
        self.assertEqual(sorted(executions), sorted(f"e{i}" for i in range(EXECUTIONS)))
        recorded = collections.Counter()
        # (execution ARN, state, input) -> when its result was recorded, for non-Map tasks.
        recorded_at = {}
        for i in range(EXECUTIONS):
            _, _, expected = plan(i)
            arn = executions[f"e{i}"]["executionArn"]
            described = sfn.describe_execution(executionArn=arn)
            self.assertEqual(described["status"], "SUCCEEDED", arn)
            self.assertEqual(json.loads(described["output"]), expected, arn)
            events = []
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
                events += page["events"]
            # Witnessed tasks only (prepare leaves no trace outside the engine).
            recorded[arn] = sum(
                1 for e in events if e["type"] == "LambdaFunctionSucceeded"
                and "witnessed" in e["lambdaFunctionSucceededEventDetails"]["output"])
            by_id = {e["id"]: e for e in events}
            for e in events:
                if e["type"] != "LambdaFunctionSucceeded":
                    continue
                scheduled = by_id[by_id[e["previousEventId"]]["previousEventId"]]
                entered = by_id[scheduled["previousEventId"]]
                if entered["type"] != "TaskStateEntered":
                    continue
                state = entered["stateEnteredEventDetails"]["name"]
                task_input = json.loads(
                    scheduled["lambdaFunctionScheduledEventDetails"]["input"])
                recorded_at[(arn, state, json.dumps(task_input, sort_keys=True))] = \
                    e["timestamp"].timestamp()

        # Each recorded task ran once per process, and again only after its process was killed.
        runs = collections.defaultdict(list)
        inputs = {}
        with open(self.log) as log:
            for line in log:
                key, pid, event = line.rstrip("\n").split("\t", 2)
                runs[key].append(int(pid))
                inputs[key] = json.dumps(json.loads(event), sort_keys=True)
        per_execution = collections.Counter(key.rsplit("/", 3)[0] for key in runs)
        self.assertEqual(per_execution, recorded,
                         "one witnessed key per recorded task result, no more, no less")
        repeated = checked = 0
        for key, pids in runs.items():
            self.assertEqual(len(pids), len(set(pids)), f"{key} ran twice in one process")
            for pid in pids[:-1]:
                self.assertIn(pid, killed, f"{key} ran again though process {pid} lived on")
            repeated += len(pids) > 1
            # A result recorded before a kill is never produced again: a task that ran in a
            # killed process and again later had its result recorded after that kill.
            arn, state = key.rsplit("/", 3)[:2]
            at = recorded_at.get((arn, state, inputs[key]))
            if at is not None and len(pids) > 1:
                checked += 1
                for pid in pids[:-1]:
                    self.assertGreaterEqual(at, killed[pid] - 0.001,
                                            f"{key}: its result was recorded before process {pid} "
                                            "was killed, yet it ran again")
        print(f"crash test: {len(runs)} task invocations recorded, {repeated} repeated after a "
              f"kill ({checked} of them with the time of their recorded result checked), "
              f"{len(killed)} kills", file=sys.stderr)
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
