"""The Step Functions API of `hpdeploy serve`, driven by real AWS clients: boto3 and the AWS CLI.

Run by ctest (tests/CMakeLists.txt) with HPDEPLOY set to the binary. Each test class starts its
own server on a free loopback port with a fresh data dir; nothing here sleeps on a fixed delay
except where an execution is awaited, which polls DescribeExecution.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request
import urllib.error

import boto3
import botocore.config
import botocore.exceptions

import serving

HPDEPLOY = os.environ.get("HPDEPLOY", "build/bin/hpdeploy")
ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn"
PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}:"

PASS_MACHINE = json.dumps({
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Succeed"},
    },
})
WAIT_MACHINE = json.dumps({
    "StartAt": "W",
    "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}},
})
FAIL_MACHINE = json.dumps({
    "StartAt": "F",
    "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}},
})


def client(url):
    return serving.client(url, inject_host_prefix=False)


def Server(data_dir, time_scale="1"):
    return serving.Server(data_dir, time_scale, keep_log=True)


def error_code(call):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("the call succeeded")


class ServerTest(unittest.TestCase):
    time_scale = "1"

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hpd_sfn_api_")
        cls.server = Server(os.path.join(cls.dir, "data"), cls.time_scale).start()
        cls.sfn = client(cls.server.url)

    @classmethod
    def tearDownClass(cls):
        cls.assert_clean_exit(cls.server.stop())
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def assert_clean_exit(code):
        if code != 0:
            raise AssertionError(f"hpdeploy serve exited with {code}")

    def create(self, name, definition=PASS_MACHINE, **kwargs):
        return self.sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE,
                                             **kwargs)["stateMachineArn"]

    def wait_for_end(self, arn, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.02)
        raise AssertionError(f"{arn} still RUNNING after {timeout} s")


class StateMachineLifecycleTest(ServerTest):
    def test_create_describe_update_list_delete(self):
        arn = self.create("lifecycle")
        self.assertEqual(arn, PREFIX + "stateMachine:lifecycle")
        # The same request again is idempotent (roleArn is not compared), with the same date;
        # a different definition is refused.
        first = self.sfn.describe_state_machine(stateMachineArn=arn)["creationDate"]
        again = self.sfn.create_state_machine(name="lifecycle", definition=PASS_MACHINE,
                                              roleArn=ROLE + "-other")
        self.assertEqual(again["stateMachineArn"], arn)
        self.assertEqual(again["creationDate"], first)
        code, message = error_code(lambda: self.create("lifecycle", FAIL_MACHINE))
        self.assertEqual(code, "StateMachineAlreadyExists")
        self.assertIn(arn, message)

        described = self.sfn.describe_state_machine(stateMachineArn=arn)
        self.assertEqual(described["name"], "lifecycle")
        self.assertEqual(described["status"], "ACTIVE")
        self.assertEqual(described["type"], "STANDARD")
        self.assertEqual(described["roleArn"], ROLE)
        self.assertEqual(json.loads(described["definition"]), json.loads(PASS_MACHINE))
        self.assertEqual(described["loggingConfiguration"]["level"], "OFF")

        updated = self.sfn.update_state_machine(stateMachineArn=arn, definition=FAIL_MACHINE)
        self.assertIn("revisionId", updated)
        described = self.sfn.describe_state_machine(stateMachineArn=arn)
        self.assertEqual(json.loads(described["definition"]), json.loads(FAIL_MACHINE))
        self.assertEqual(described["revisionId"], updated["revisionId"])
        code, _ = error_code(lambda: self.sfn.update_state_machine(stateMachineArn=arn))
        self.assertEqual(code, "MissingRequiredParameter")

        self.sfn.delete_state_machine(stateMachineArn=arn)
        code, _ = error_code(lambda: self.sfn.describe_state_machine(stateMachineArn=arn))
        self.assertEqual(code, "StateMachineDoesNotExist")
        self.sfn.delete_state_machine(stateMachineArn=arn)  # deleting again succeeds

    def test_list_pages_in_name_order(self):
        for name in ["list-c", "list-a", "list-b"]:
            self.create(name)
        names = []
        for page in self.sfn.get_paginator("list_state_machines").paginate(
                PaginationConfig={"PageSize": 1}):
            self.assertLessEqual(len(page["stateMachines"]), 1)
            names += [m["name"] for m in page["stateMachines"]]
        listed = [n for n in names if n.startswith("list-")]
        self.assertEqual(listed, ["list-a", "list-b", "list-c"])

    def test_running_executions_outlive_their_deleted_machine(self):
        arn = self.create("deleted", WAIT_MACHINE)
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        self.sfn.delete_state_machine(stateMachineArn=arn)
        self.assertEqual(self.sfn.describe_execution(executionArn=execution)["status"], "RUNNING")
        self.assertEqual(self.sfn.describe_state_machine_for_execution(
            executionArn=execution)["stateMachineArn"], arn)
        self.sfn.stop_execution(executionArn=execution)
        self.assertEqual(self.sfn.describe_execution(executionArn=execution)["status"], "ABORTED")

    def test_describe_state_machine_for_execution_keeps_the_revision_it_ran(self):
        arn = self.create("revisions")
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        self.wait_for_end(execution)
        self.sfn.update_state_machine(stateMachineArn=arn, definition=FAIL_MACHINE)
        described = self.sfn.describe_state_machine_for_execution(executionArn=execution)
        self.assertEqual(json.loads(described["definition"]), json.loads(PASS_MACHINE))
        self.assertEqual(described["stateMachineArn"], arn)

    def test_validate_definition(self):
        ok = self.sfn.validate_state_machine_definition(definition=PASS_MACHINE)
        self.assertEqual(ok["result"], "OK")
        self.assertEqual(ok["diagnostics"], [])
        bad = self.sfn.validate_state_machine_definition(
            definition=json.dumps({"StartAt": "Nowhere", "States": {"A": {"Type": "Pass",
                                                                           "End": True}}}))
        self.assertEqual(bad["result"], "FAIL")
        self.assertTrue(all(d["severity"] == "ERROR" for d in bad["diagnostics"]))
        self.assertIn("MISSING_TRANSITION_TARGET", [d["code"] for d in bad["diagnostics"]])


class ExecutionTest(ServerTest):
    def test_start_describe_and_history(self):
        arn = self.create("runs")
        started = self.sfn.start_execution(stateMachineArn=arn, name="e1", input='{"in": true}')
        self.assertEqual(started["executionArn"], PREFIX + "execution:runs:e1")
        described = self.wait_for_end(started["executionArn"])
        self.assertEqual(described["status"], "SUCCEEDED")
        self.assertEqual(json.loads(described["output"]), {"in": True, "a": {"x": 1}})
        self.assertEqual(described["input"], '{"in": true}')
        self.assertEqual(described["startDate"], started["startDate"])
        self.assertGreaterEqual(described["stopDate"], described["startDate"])

        pages = list(self.sfn.get_paginator("get_execution_history").paginate(
            executionArn=started["executionArn"], PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["events"]) for p in pages], [2, 2, 2])
        events = [e for p in pages for e in p["events"]]
        self.assertEqual([e["type"] for e in events],
                         ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                          "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"])
        self.assertEqual([e["id"] for e in events], [1, 2, 3, 4, 5, 6])

        reverse = self.sfn.get_execution_history(executionArn=started["executionArn"],
                                                 reverseOrder=True, maxResults=1)
        self.assertEqual(reverse["events"][0]["type"], "ExecutionSucceeded")
        self.assertIn("nextToken", reverse)

        without = self.sfn.get_execution_history(executionArn=started["executionArn"],
                                                 includeExecutionData=False)
        first = without["events"][0]["executionStartedEventDetails"]
        self.assertNotIn("input", first)
        self.assertEqual(first["roleArn"], ROLE)

    def test_reverse_history_pages_hold_still_while_events_are_added(self):
        arn = self.create("growing", json.dumps({"StartAt": "W0", "States": {
            **{f"W{i}": {"Type": "Wait", "Seconds": 0, "Next": f"W{i + 1}"} for i in range(3)},
            "W3": {"Type": "Wait", "Seconds": 100000, "End": True}}}))
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        deadline = time.monotonic() + 20
        while len(self.sfn.get_execution_history(executionArn=execution)["events"]) < 8:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        page = self.sfn.get_execution_history(executionArn=execution, reverseOrder=True,
                                              maxResults=3)
        ids = [e["id"] for e in page["events"]]
        while "nextToken" in page:
            page = self.sfn.get_execution_history(executionArn=execution, reverseOrder=True,
                                                  maxResults=3, nextToken=page["nextToken"])
            ids += [e["id"] for e in page["events"]]
        self.assertEqual(ids, list(range(ids[0], 0, -1)))
        self.sfn.stop_execution(executionArn=execution)

    def test_start_is_idempotent_while_running_only(self):
        arn = self.create("idem", WAIT_MACHINE)
        first = self.sfn.start_execution(stateMachineArn=arn, name="same", input="{}")
        again = self.sfn.start_execution(stateMachineArn=arn, name="same", input="{}")
        self.assertEqual(first["executionArn"], again["executionArn"])
        self.assertEqual(first["startDate"], again["startDate"])
        code, _ = error_code(lambda: self.sfn.start_execution(stateMachineArn=arn, name="same",
                                                              input='{"other": 1}'))
        self.assertEqual(code, "ExecutionAlreadyExists")
        self.sfn.stop_execution(executionArn=first["executionArn"])
        code, _ = error_code(lambda: self.sfn.start_execution(stateMachineArn=arn, name="same",
                                                              input="{}"))
        self.assertEqual(code, "ExecutionAlreadyExists")

    def test_stop_aborts_a_waiting_execution(self):
        arn = self.create("stoppable", WAIT_MACHINE)
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        stopped = self.sfn.stop_execution(executionArn=execution, error="Halt", cause="by test")
        described = self.sfn.describe_execution(executionArn=execution)
        self.assertEqual(described["status"], "ABORTED")
        self.assertEqual(described["error"], "Halt")
        self.assertEqual(described["cause"], "by test")
        self.assertEqual(described["stopDate"], stopped["stopDate"])
        events = self.sfn.get_execution_history(executionArn=execution)["events"]
        self.assertEqual(events[-1]["type"], "ExecutionAborted")
        self.assertEqual(events[-1]["executionAbortedEventDetails"],
                         {"error": "Halt", "cause": "by test"})

    def test_failed_execution(self):
        arn = self.create("fails", FAIL_MACHINE)
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        described = self.wait_for_end(execution)
        self.assertEqual(described["status"], "FAILED")
        self.assertEqual(described["error"], "Boom")
        self.assertEqual(described["cause"], "on purpose")

    def test_list_executions_with_filters_and_pages(self):
        arn = self.create("listing")
        waiting = self.create("listing-wait", WAIT_MACHINE)
        for i in range(5):
            self.wait_for_end(self.sfn.start_execution(stateMachineArn=arn,
                                                       name=f"x{i}")["executionArn"])
        running = self.sfn.start_execution(stateMachineArn=waiting, name="r")["executionArn"]
        names = []
        for page in self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=arn, PaginationConfig={"PageSize": 2}):
            names += [e["name"] for e in page["executions"]]
        self.assertEqual(names, ["x4", "x3", "x2", "x1", "x0"])  # newest first
        listed = self.sfn.list_executions(stateMachineArn=waiting, statusFilter="RUNNING")
        self.assertEqual([e["executionArn"] for e in listed["executions"]], [running])
        self.assertEqual(
            self.sfn.list_executions(stateMachineArn=waiting, statusFilter="SUCCEEDED")
            ["executions"], [])
        self.sfn.stop_execution(executionArn=running)

    def test_execution_timeout(self):
        arn = self.create("times-out", json.dumps({
            "StartAt": "W", "TimeoutSeconds": 1,
            "States": {"W": {"Type": "Wait", "Seconds": 100000, "End": True}}}))
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        described = self.wait_for_end(execution)
        self.assertEqual(described["status"], "TIMED_OUT")
        self.assertNotIn("error", described)
        events = self.sfn.get_execution_history(executionArn=execution)["events"]
        self.assertEqual(events[-1]["type"], "ExecutionTimedOut")
        self.assertEqual(events[-1]["executionTimedOutEventDetails"], {"error": "States.Timeout"})

    def test_express_start_sync_execution(self):
        arn = self.create("express", type="EXPRESS")
        result = self.sfn.start_sync_execution(stateMachineArn=arn, input='{"k": 2}')
        self.assertEqual(result["status"], "SUCCEEDED")
        self.assertEqual(json.loads(result["output"]), {"k": 2, "a": {"x": 1}})
        self.assertTrue(result["executionArn"].startswith(PREFIX + "express:express:"))
        standard = self.create("not-express")
        code, _ = error_code(lambda: self.sfn.start_sync_execution(stateMachineArn=standard))
        self.assertEqual(code, "StateMachineTypeNotSupported")
        # Express executions keep no history: AWS refuses them where that matters.
        code, _ = error_code(lambda: self.sfn.list_executions(stateMachineArn=arn))
        self.assertEqual(code, "StateMachineTypeNotSupported")
        code, message = error_code(
            lambda: self.sfn.describe_execution(executionArn=result["executionArn"]))
        self.assertEqual(code, "InvalidArn")
        self.assertIn("express", message)
        # And StartExecution is not idempotent for them: the same name starts again.
        one = self.sfn.start_execution(stateMachineArn=arn, name="same")["executionArn"]
        two = self.sfn.start_execution(stateMachineArn=arn, name="same")["executionArn"]
        self.assertNotEqual(one, two)


class RedriveTest(ServerTest):
    time_scale = "0"

    FLAKY = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:flaky"
    PREPARE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:prepare"

    def scheduled(self, execution, resource):
        events = []
        for page in self.sfn.get_paginator("get_execution_history").paginate(
                executionArn=execution):
            events += page["events"]
        return sum(1 for e in events if e["type"] == "LambdaFunctionScheduled"
                   and e["lambdaFunctionScheduledEventDetails"]["resource"] == resource), events

    def test_redrive_resumes_at_the_failed_state(self):
        # flaky fails twice per event, then succeeds: two redrives finish the execution.
        arn = self.create("redrive", json.dumps({
            "StartAt": "Before", "States": {
                "Before": {"Type": "Pass", "Next": "Flaky"},
                "Flaky": {"Type": "Task", "Resource": self.FLAKY, "End": True}}}))
        execution = self.sfn.start_execution(stateMachineArn=arn, input='{"n": 9001}')[
            "executionArn"]
        described = self.wait_for_end(execution)
        self.assertEqual(described["status"], "FAILED")
        self.assertEqual(described["error"], "FlakyError")
        self.assertEqual(described["redriveStatus"], "REDRIVABLE")
        for expected_count, expected_status in [(1, "FAILED"), (2, "SUCCEEDED")]:
            redriven = self.sfn.redrive_execution(executionArn=execution)
            self.assertIn("redriveDate", redriven)
            described = self.wait_for_end(execution)
            self.assertEqual(described["status"], expected_status)
            self.assertEqual(described["redriveCount"], expected_count)
            self.assertEqual(described["redriveDate"], redriven["redriveDate"])
        self.assertEqual(json.loads(described["output"]), {"ok": True, "n": 9001, "attempt": 3})
        self.assertEqual(described["redriveStatus"], "NOT_REDRIVABLE")
        flaky_runs, events = self.scheduled(execution, self.FLAKY)
        self.assertEqual(flaky_runs, 3)
        types = [e["type"] for e in events]
        self.assertEqual(types.count("ExecutionRedriven"), 2)
        self.assertEqual(types.count("PassStateEntered"), 1)  # Before ran once
        redriven_events = [e for e in events if e["type"] == "ExecutionRedriven"]
        self.assertEqual([e["executionRedrivenEventDetails"]["redriveCount"]
                          for e in redriven_events], [1, 2])
        code, _ = error_code(lambda: self.sfn.redrive_execution(executionArn=execution))
        self.assertEqual(code, "ExecutionNotRedrivable")

    def test_a_retried_redrive_with_the_same_client_token_is_answered_once(self):
        arn = self.create("redrive-token", json.dumps({"StartAt": "Flaky", "States": {
            "Flaky": {"Type": "Task", "Resource": self.FLAKY, "End": True}}}))
        execution = self.sfn.start_execution(stateMachineArn=arn, input='{"n": 9003}')[
            "executionArn"]
        self.assertEqual(self.wait_for_end(execution)["status"], "FAILED")
        first = self.sfn.redrive_execution(executionArn=execution, clientToken="tok-1")
        again = self.sfn.redrive_execution(executionArn=execution, clientToken="tok-1")
        self.assertEqual(first["redriveDate"], again["redriveDate"])
        described = self.wait_for_end(execution)
        self.assertEqual(described["redriveCount"], 1)

    def test_redrive_reruns_only_the_failed_parallel_branch(self):
        arn = self.create("redrive-parallel", json.dumps({
            "StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Prepare", "States": {"Prepare": {
                    "Type": "Task", "Resource": self.PREPARE, "End": True}}},
                {"StartAt": "Flaky", "States": {"Flaky": {
                    "Type": "Task", "Resource": self.FLAKY, "End": True}}}]}}}))
        execution = self.sfn.start_execution(
            stateMachineArn=arn, input='{"n": 9002, "cluster": "c", "region": "r", "nodes": 2}')[
            "executionArn"]
        self.assertEqual(self.wait_for_end(execution)["status"], "FAILED")
        self.sfn.redrive_execution(executionArn=execution)
        self.assertEqual(self.wait_for_end(execution)["status"], "FAILED")
        self.sfn.redrive_execution(executionArn=execution)
        described = self.wait_for_end(execution)
        self.assertEqual(described["status"], "SUCCEEDED")
        output = json.loads(described["output"])
        self.assertEqual(output[0]["plan"], "plan-c-r")
        self.assertEqual(output[1]["attempt"], 3)
        prepare_runs, _ = self.scheduled(execution, self.PREPARE)
        self.assertEqual(prepare_runs, 1)

    def test_not_redrivable(self):
        arn = self.create("redrive-no")
        execution = self.sfn.start_execution(stateMachineArn=arn)["executionArn"]
        self.assertEqual(self.wait_for_end(execution)["status"], "SUCCEEDED")
        code, message = error_code(lambda: self.sfn.redrive_execution(executionArn=execution))
        self.assertEqual(code, "ExecutionNotRedrivable")
        self.assertIn("SUCCEEDED", message)
        code, _ = error_code(lambda: self.sfn.redrive_execution(
            executionArn=PREFIX + "execution:redrive-no:missing"))
        self.assertEqual(code, "ExecutionDoesNotExist")


class ErrorTest(ServerTest):
    def test_documented_error_codes(self):
        arn = self.create("errors")
        missing_machine = PREFIX + "stateMachine:nope"
        missing_execution = PREFIX + "execution:errors:nope"
        cases = [
            (lambda: self.sfn.describe_state_machine(stateMachineArn=missing_machine),
             "StateMachineDoesNotExist"),
            (lambda: self.sfn.start_execution(stateMachineArn=missing_machine),
             "StateMachineDoesNotExist"),
            (lambda: self.sfn.describe_execution(executionArn=missing_execution),
             "ExecutionDoesNotExist"),
            (lambda: self.sfn.get_execution_history(executionArn=missing_execution),
             "ExecutionDoesNotExist"),
            (lambda: self.sfn.stop_execution(executionArn=missing_execution),
             "ExecutionDoesNotExist"),
            (lambda: self.sfn.describe_state_machine(stateMachineArn="not-an-arn"),
             "InvalidArn"),
            (lambda: self.sfn.describe_execution(executionArn=arn), "InvalidArn"),
            (lambda: self.sfn.create_state_machine(name="bad name", definition=PASS_MACHINE,
                                                   roleArn=ROLE), "InvalidName"),
            (lambda: self.sfn.create_state_machine(name="x" * 81, definition=PASS_MACHINE,
                                                   roleArn=ROLE), "ValidationException"),
            (lambda: self.sfn.create_state_machine(name="nodef", definition='{"StartAt":"A"}',
                                                   roleArn=ROLE), "InvalidDefinition"),
            (lambda: self.sfn.create_state_machine(name="norole", definition=PASS_MACHINE,
                                                   roleArn="role"), "InvalidArn"),
            (lambda: self.sfn.start_execution(stateMachineArn=arn, input="{not json"),
             "InvalidExecutionInput"),
            (lambda: self.sfn.start_execution(stateMachineArn=arn, name="a/b"), "InvalidName"),
            (lambda: self.sfn.list_executions(stateMachineArn=arn, nextToken="garbage"),
             "InvalidToken"),
            (lambda: self.sfn.get_execution_history(executionArn=missing_execution,
                                                    nextToken="garbage"), "InvalidToken"),
        ]
        for call, expected in cases:
            with self.subTest(expected=expected):
                code, message = error_code(call)
                self.assertEqual(code, expected, message)
                self.assertTrue(message, "an AWS error carries a message")

    def test_definition_errors_are_named(self):
        _, message = error_code(lambda: self.sfn.create_state_machine(
            name="nodef", roleArn=ROLE, definition=json.dumps(
                {"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": True}}})))
        self.assertIn("Invalid State Machine Definition", message)
        self.assertIn("MISSING_TRANSITION_TARGET", message)

    def post(self, target, body, content_type="application/x-amz-json-1.0"):
        request = urllib.request.Request(self.server.url + "/", data=body.encode(), method="POST")
        request.add_header("Content-Type", content_type)
        request.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/"
                           "states/aws4_request, SignedHeaders=host, Signature=0")
        if target:
            request.add_header("X-Amz-Target", target)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_unknown_and_malformed_requests(self):
        status, body = self.post("AWSStepFunctions.NoSuchAction", "{}")
        self.assertEqual(status, 400)
        self.assertTrue(body["__type"].endswith("#UnknownOperationException"))
        status, body = self.post("AWSStepFunctions.ListStateMachines", "{not json")
        self.assertEqual(status, 400)
        self.assertTrue(body["__type"].endswith("#SerializationException"))
        status, body = self.post("AWSStepFunctions.ListStateMachines", '{"maxResults": "x"}')
        self.assertEqual(status, 400)
        self.assertTrue(body["__type"].endswith("#SerializationException"))

    def test_unsigned_requests_are_refused(self):
        request = urllib.request.Request(self.server.url + "/", data=b"{}", method="POST")
        request.add_header("Content-Type", "application/x-amz-json-1.0")
        request.add_header("X-Amz-Target", "AWSStepFunctions.ListStateMachines")
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request)
        self.assertEqual(raised.exception.code, 400)
        body = json.loads(raised.exception.read())
        self.assertTrue(body["__type"].endswith("#MissingAuthenticationTokenException"))


class AwsCliTest(ServerTest):
    def aws(self, *args):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_DEFAULT_REGION=REGION, AWS_PAGER="")
        done = subprocess.run(["aws", "stepfunctions", "--endpoint-url", self.server.url,
                               "--output", "json", *args], env=env, capture_output=True,
                              text=True, timeout=60)
        return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else None), \
            done.stderr

    def test_the_aws_cli_drives_the_api(self):
        code, created, err = self.aws("create-state-machine", "--name", "cli",
                                      "--definition", PASS_MACHINE, "--role-arn", ROLE)
        self.assertEqual(code, 0, err)
        arn = created["stateMachineArn"]
        code, started, err = self.aws("start-execution", "--state-machine-arn", arn,
                                      "--name", "c1", "--input", '{"v": 3}')
        self.assertEqual(code, 0, err)
        self.wait_for_end(started["executionArn"])
        code, described, err = self.aws("describe-execution", "--execution-arn",
                                        started["executionArn"])
        self.assertEqual(code, 0, err)
        self.assertEqual(described["status"], "SUCCEEDED")
        # The CLI pages by itself with --page-size.
        code, history, err = self.aws("get-execution-history", "--execution-arn",
                                      started["executionArn"], "--page-size", "2")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(history["events"]), 6)
        code, _, err = self.aws("describe-execution", "--execution-arn",
                                PREFIX + "execution:cli:missing")
        self.assertNotEqual(code, 0)
        self.assertIn("ExecutionDoesNotExist", err)


class ServeCommandTest(unittest.TestCase):
    """`hpdeploy serve`'s own errors: clear messages, exit 2, nothing left running."""

    def run_serve(self, *args):
        return subprocess.run([HPDEPLOY, "serve", *args], capture_output=True, text=True,
                              timeout=30)

    def test_a_busy_port_is_refused_clearly(self):
        directory = tempfile.mkdtemp(prefix="hpd_serve_")
        try:
            server = Server(os.path.join(directory, "a"), "1").start()
            port = server.url.rsplit(":", 1)[1]
            done = self.run_serve("--port", port, "--data-dir", os.path.join(directory, "b"))
            self.assertEqual(done.returncode, 2)
            self.assertIn("address already in use", done.stderr)
            self.assertIn(port, done.stderr)
            self.assertEqual(server.stop(), 0)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def test_an_unusable_data_dir_is_refused_clearly(self):
        with tempfile.NamedTemporaryFile() as file:
            done = self.run_serve("--port", "0", "--data-dir", os.path.join(file.name, "sub"))
            self.assertEqual(done.returncode, 2)
            self.assertIn("cannot create the data dir", done.stderr)

    def test_a_non_loopback_address_needs_keys(self):
        directory = tempfile.mkdtemp(prefix="hpd_serve_")
        try:
            done = self.run_serve("--host", "0.0.0.0", "--port", "0", "--data-dir", directory)
            self.assertEqual(done.returncode, 2)
            self.assertIn("--access-key", done.stderr)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def test_sigv4_is_verified_when_keys_are_configured(self):
        directory = tempfile.mkdtemp(prefix="hpd_serve_")
        process = subprocess.Popen(
            [HPDEPLOY, "serve", "--port", "0", "--data-dir", directory,
             "--access-key", "AKIDTEST:secret-test"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
            good = boto3.client("stepfunctions", endpoint_url=url, region_name=REGION,
                                aws_access_key_id="AKIDTEST",
                                aws_secret_access_key="secret-test")
            # A fresh server has the HyperPod pipeline's state machines, and nothing else.
            self.assertEqual(sorted(m["name"] for m in good.list_state_machines()["stateMachines"]),
                             ["hyperpod-cancel", "hyperpod-deployment", "hyperpod-teardown"])
            bad = boto3.client("stepfunctions", endpoint_url=url, region_name=REGION,
                               aws_access_key_id="AKIDTEST", aws_secret_access_key="wrong",
                               config=botocore.config.Config(retries={"max_attempts": 1}))
            code, _ = error_code(lambda: bad.list_state_machines())
            self.assertEqual(code, "InvalidSignatureException")
            unknown = boto3.client("stepfunctions", endpoint_url=url, region_name=REGION,
                                   aws_access_key_id="NOBODY", aws_secret_access_key="x",
                                   config=botocore.config.Config(retries={"max_attempts": 1}))
            code, _ = error_code(lambda: unknown.list_state_machines())
            self.assertEqual(code, "UnrecognizedClientException")
            process.send_signal(signal.SIGTERM)
            self.assertEqual(process.wait(timeout=30), 0)
            self.assertNotIn("secret-test", process.stderr.read())  # no secret in the logs
        finally:
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            process.stderr.close()
            shutil.rmtree(directory, ignore_errors=True)


class RestartTest(unittest.TestCase):
    def test_a_waiting_execution_survives_a_restart(self):
        directory = tempfile.mkdtemp(prefix="hpd_sfn_restart_")
        data = os.path.join(directory, "data")
        try:
            server = Server(data, "1").start()
            sfn = client(server.url)
            arn = sfn.create_state_machine(name="survivor", roleArn=ROLE, definition=json.dumps({
                "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
                                           "P": {"Type": "Pass", "End": True}}}))[
                "stateMachineArn"]
            execution = sfn.start_execution(stateMachineArn=arn, input='{"kept": 1}')[
                "executionArn"]
            self.assertEqual(server.stop(signal.SIGKILL), -signal.SIGKILL)

            server = Server(data, "0").start()  # waits now take no time
            sfn = client(server.url)
            deadline = time.monotonic() + 20
            while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            described = sfn.describe_execution(executionArn=execution)
            self.assertEqual(described["status"], "SUCCEEDED")
            self.assertEqual(json.loads(described["output"]), {"kept": 1})
            types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)[
                "events"]]
            self.assertEqual(types, ["ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                     "PassStateEntered", "PassStateExited", "ExecutionSucceeded"])
            self.assertEqual(server.stop(), 0)
        finally:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
