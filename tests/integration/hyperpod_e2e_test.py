"""End to end: the HyperPod pipeline on the embedded default.

Everything real: `hpdeploy deploy` / `serve` run the durable engine and its journal, the task
handlers, the local container runner (InfraForge is `hpdeploy sandbox infraforge`, a child
process) and the sandbox cloud, each test on its own data dir. Time runs at 0.002 (a ~25 minute
EKS + HyperPod stack takes ~3 s).

Covered: the default deployment and its outputs (parameters, outputs document, execution
output mirroring them); teardown; every injected fault's state path, status, failure record and
what is left in the sandbox; the seed's payload through boto3 with a kill -9 of the server during
RunInfraForgeTask; --no-follow; bad command lines.

Run by ctest with HPDEPLOY set.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

from serving import Server, client

HPDEPLOY = os.environ.get("HPDEPLOY", "build/bin/hpdeploy")
TIME_SCALE = "0.002"
REGION = "us-east-1"  # of the Step Functions API
ACCOUNT = "123456789012"
PREFIX = "/perf-eval/hyperpod"
BUCKET = "perf-eval-hyperpod-config"
DEPLOYMENT = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:hyperpod-deployment"

SUCCESS_PATH = ["PrepareDeploymentConfig", "RunInfraForgeTask", "PostDeploymentValidation",
                "PersistDeploymentOutputs", "Success"]
FAILURE_TAIL = ["CleanupOnFailure", "RecordFailure", "DeploymentFailed"]


def own_stacks(resources):
    """The stacks themselves among a job's resources (not the nested stacks CDK adds)."""
    return [r for r in resources
            if r["type"] == "AWS::CloudFormation::Stack" and r["logicalId"] == r["stack"]]


def seed_payload(job, preset, requested_by):
    """The seed's input payload for `job`."""
    return {"jobId": job, "requestedBy": requested_by, "requestedAt": "2025-01-01T00:00:00Z",
            "timeoutSeconds": 3600, "config": {"preset": preset, "region": "us-west-2"},
            "guardrails": {"quotaChecks": True},
            "artifacts": {"configBucket": BUCKET, "parameterPrefix": PREFIX}}


def wait_for_end(sfn, arn, timeout):
    """DescribeExecution once the execution has ended (or when `timeout` seconds are up)."""
    deadline = time.time() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.time() >= deadline:
            return described
        time.sleep(0.1)


def run(*args, timeout=180):
    return subprocess.run([HPDEPLOY, *args], capture_output=True, text=True, timeout=timeout)


class DataDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hpd-e2e-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def deploy(self, *args, expect=None):
        p = run("deploy", "--data-dir", self.dir, "--time-scale", TIME_SCALE, *args)
        match = re.search(r"HyperPod job (\S+):", p.stdout)
        self.assertIsNotNone(match, p.stdout + p.stderr)
        if expect is not None:
            self.assertEqual(p.returncode, expect, p.stdout + p.stderr)
        return match.group(1), p

    def status(self, job):
        p = run("status", job, "--data-dir", self.dir, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def params(self, path):
        p = run("params", "get-by-path", path, "--data-dir", self.dir, "--json")
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return {x["Name"]: x["Value"] for x in json.loads(p.stdout)["Parameters"]}

    def resources(self, job):
        p = run("sandbox", "resources", "--job", job, "--sandbox-dir",
                os.path.join(self.dir, "sandbox"), "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["resources"]

    def assert_failed(self, job, path_to_failure, error):
        s = self.status(job)
        self.assertEqual(s["status"], "FAILED")
        self.assertEqual(s["path"], path_to_failure + FAILURE_TAIL)
        failure = s["failure"]
        self.assertEqual(failure["error"], error)
        self.assertEqual(failure["failedState"], path_to_failure[-1])
        return s


class DeploymentTest(DataDirTest):
    def test_a_default_deployment_persists_its_outputs_and_teardown_removes_everything(self):
        job, p = self.deploy(expect=0)
        self.assertIn("guardrails:", p.stdout)
        self.assertIn("| ", p.stdout)  # InfraForge's log lines, followed live
        s = self.status(job)
        self.assertEqual(s["status"], "SUCCEEDED")
        self.assertEqual(s["path"], SUCCESS_PATH)
        outputs = s["outputs"]
        for key in ("stackId", "stackName", "clusterArn", "clusterName", "eksClusterName",
                    "eksClusterArn", "eksEndpoint", "oidcProviderArn", "nlbDnsName"):
            self.assertTrue(outputs.get(key), key)
        self.assertTrue(outputs["clusterArn"].startswith("arn:aws:sagemaker:us-west-2:"))
        self.assertTrue(outputs["stackId"].startswith("arn:aws:cloudformation:us-west-2:"))
        self.assertTrue(outputs["nlbDnsName"].endswith(".elb.us-west-2.amazonaws.com"))
        # The parameters mirror the execution's output, under <prefix>/<jobId>/.
        params = self.params(f"{PREFIX}/{job}")
        for key in ("stackId", "stackName", "clusterArn", "clusterName", "eksClusterName",
                    "eksClusterArn", "eksEndpoint", "oidcProviderArn", "nlbDnsName", "region",
                    "preset", "status"):
            self.assertEqual(params[f"{PREFIX}/{job}/{key}"], outputs[key], key)
        report = json.loads(params[f"{PREFIX}/{job}/guardrailReport"])
        self.assertEqual(report, outputs["guardrails"])
        self.assertEqual(report["name.cluster"], "PASS")
        self.assertTrue(all(v in ("PASS", "WARN") for v in report.values()), report)
        self.assertEqual(s["guardrails"]["passed"], True)
        # Exactly one stack, complete, and its resources.
        resources = self.resources(job)
        stacks = own_stacks(resources)
        self.assertEqual(len(stacks), 1)
        self.assertEqual(stacks[0]["status"], "CREATE_COMPLETE")
        types = {r["type"] for r in resources}
        for t in ("AWS::EKS::Cluster", "AWS::SageMaker::Cluster", "AWS::FSx::FileSystem"):
            self.assertIn(t, types)

        p = run("teardown", job, "--data-dir", self.dir, "--time-scale", TIME_SCALE)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("TORN_DOWN", p.stdout)
        self.assertEqual(self.resources(job), [])
        self.assertEqual(self.params(f"{PREFIX}/{job}"), {})
        self.assertEqual(self.status(job)["teardown"]["status"], "SUCCEEDED")
        # A second teardown finds it done.
        p = run("teardown", job, "--data-dir", self.dir, "--time-scale", TIME_SCALE)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("already torn down", p.stdout)

    def test_logs_and_no_follow(self):
        job, p = self.deploy("--no-follow", "--preset", "small", "--name", "bg", expect=0)
        self.assertIn("background", p.stdout)
        # logs --follow prints InfraForge's lines as they come and returns when the job ends.
        followed = run("logs", job, "--follow", "--data-dir", self.dir)
        self.assertEqual(followed.returncode, 0, followed.stderr)
        self.assertIn("Deployment time", followed.stdout)
        s = self.status(job)
        self.assertEqual(s["status"], "SUCCEEDED")
        self.assertTrue(s["outputs"]["clusterName"].startswith("bg-"))
        logs = run("logs", job, "--data-dir", self.dir)
        self.assertEqual(logs.returncode, 0, logs.stderr)
        self.assertIn("/ecs/infraforge", logs.stdout)
        self.assertIn("deploying", logs.stdout)
        # The background engine exits once idle, releasing the data dir.
        deadline = time.time() + 30
        while time.time() < deadline:
            p = run("teardown", job, "--data-dir", self.dir, "--time-scale", TIME_SCALE)
            if "another hpdeploy process" not in p.stderr:
                break
            time.sleep(0.5)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class FaultTest(DataDirTest):
    def test_quota_exhausted_fails_the_guardrails_before_anything_is_created(self):
        job, p = self.deploy("--fault", "quota-exhausted", expect=1)
        s = self.assert_failed(job, ["PrepareDeploymentConfig"], "GuardrailViolation")
        failed = [c["id"] for c in s["failure"]["guardrails"]["checks"] if c["status"] == "FAIL"]
        self.assertTrue(any(c.startswith("quota.") for c in failed), failed)
        self.assertIn("FAIL", p.stdout)
        self.assertEqual(self.resources(job), [])
        self.assertEqual(self.params(f"{PREFIX}/{job}")[f"{PREFIX}/{job}/status"], "FAILED")

    def test_insufficient_capacity_rolls_back_and_cleanup_removes_the_stack(self):
        job, _ = self.deploy("--fault", "insufficient-capacity", expect=1)
        s = self.assert_failed(job, ["PrepareDeploymentConfig", "RunInfraForgeTask"],
                               "States.TaskFailed")
        cause = json.loads(s["failure"]["cause"])  # the stopped ECS task
        self.assertNotEqual(cause["Containers"][0]["ExitCode"], 0)
        self.assertTrue(s["failure"]["cleanup"]["complete"])
        self.assertEqual(self.resources(job), [])

    def test_infraforge_crash_leaves_partial_resources_that_cleanup_removes(self):
        job, _ = self.deploy("--fault", "infraforge-crash", expect=1)
        s = self.assert_failed(job, ["PrepareDeploymentConfig", "RunInfraForgeTask"],
                               "States.TaskFailed")
        cleanup = s["failure"]["cleanup"]
        self.assertTrue(cleanup["complete"])
        self.assertGreater(len(cleanup["removed"]), 1)  # the stack and what it had created
        self.assertEqual(self.resources(job), [])

    def test_a_hung_deploy_times_out_and_is_cleaned_up(self):
        job, _ = self.deploy("--fault", "deploy-hang", "--timeout", "1800", expect=1)
        s = self.assert_failed(job, ["PrepareDeploymentConfig", "RunInfraForgeTask"],
                               "States.Timeout")
        self.assertTrue(s["failure"]["cleanup"]["complete"])
        self.assertEqual(self.resources(job), [])

    def test_a_cluster_that_never_gets_healthy_fails_validation(self):
        job, _ = self.deploy("--fault", "cluster-unhealthy", expect=1)
        s = self.assert_failed(
            job, ["PrepareDeploymentConfig", "RunInfraForgeTask", "PostDeploymentValidation"],
            "ClusterUnhealthy")
        self.assertIn("hyperpod.instance-groups", s["failure"]["cause"])
        self.assertTrue(s["failure"]["cleanup"]["complete"])
        self.assertEqual(self.resources(job), [])

    def test_throttling_is_absorbed_by_retries(self):
        job, p = self.deploy("--fault", "throttle=2", expect=0)
        self.assertIn("ECS.ThrottlingException", p.stdout)
        s = self.status(job)
        self.assertEqual(s["status"], "SUCCEEDED")
        self.assertEqual(s["path"], SUCCESS_PATH)

    def test_throttling_past_the_sdk_retries_fails_the_deployment(self):
        # The handlers try a throttled call five times, as an AWS SDK does: six throttles win,
        # and the first call (ListServiceQuotas) fails PrepareDeploymentConfig.
        job, p = self.deploy("--fault", "throttle=6", expect=1)
        s = self.assert_failed(job, ["PrepareDeploymentConfig"], "ThrottlingException")
        self.assertTrue(s["failure"]["cleanup"]["complete"])
        self.assertEqual(self.resources(job), [])

    def test_a_parameter_store_write_failure_is_recorded_in_the_object_store(self):
        job, _ = self.deploy("--fault", "ssm-write-failure", expect=1)
        s = self.assert_failed(job, SUCCESS_PATH[:4], "InternalServerError")
        self.assertTrue(s["failure"]["cleanup"]["complete"])
        self.assertEqual(self.resources(job), [])
        self.assertEqual(self.params(f"{PREFIX}/{job}"), {})  # nothing could be written there

    def test_cleanup_reports_exactly_what_it_could_not_remove(self):
        job, p = self.deploy("--fault", "cluster-unhealthy", "--fault", "cleanup-failure",
                             expect=1)
        s = self.assert_failed(
            job, ["PrepareDeploymentConfig", "RunInfraForgeTask", "PostDeploymentValidation"],
            "ClusterUnhealthy")
        cleanup = s["failure"]["cleanup"]
        self.assertFalse(cleanup["complete"])
        left = self.resources(job)
        self.assertTrue(left)
        self.assertEqual(sorted(r["resource"] for r in cleanup["notRemoved"]),
                         sorted(r["id"] for r in left))
        self.assertIn("AWS::FSx::FileSystem", {r["type"] for r in left})
        self.assertIn("INCOMPLETE", p.stdout)


def processes_working_in(directory):
    """Pids of the processes whose working directory is below `directory`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd.startswith(directory + os.sep):
            pids.append(int(entry))
    return pids


class StopTest(DataDirTest):
    def test_stop_execution_kills_infraforge(self):
        job = str(uuid.uuid4())
        server = Server(self.dir, "0.01").start()  # slow enough to stop it mid-deploy
        try:
            sfn = client(server.url)
            arn = sfn.start_execution(stateMachineArn=DEPLOYMENT, name=job,
                                      input=json.dumps(seed_payload(job, "small", "t")))[
                                          "executionArn"]
            tasks = os.path.join(self.dir, "tasks")
            deadline = time.time() + 60
            while time.time() < deadline and not processes_working_in(tasks):
                time.sleep(0.05)
            self.assertTrue(processes_working_in(tasks), "InfraForge never started")
            sfn.stop_execution(executionArn=arn, error="Cancelled", cause="by the test")
            self.assertEqual(wait_for_end(sfn, arn, 30)["status"], "ABORTED")
            deadline = time.time() + 30
            while time.time() < deadline and processes_working_in(tasks):
                time.sleep(0.05)
            self.assertEqual(processes_working_in(tasks), [])
        finally:
            server.stop()


class RecoveryTest(DataDirTest):
    def test_a_failed_teardown_is_tried_again_once_its_cause_is_gone(self):
        job, _ = self.deploy(expect=0)
        # The FSx file system refuses to go: InfraForge's destroy fails, and so does teardown.
        p = run("sandbox", "faults", "--sandbox-dir", os.path.join(self.dir, "sandbox"),
                "--job", job, "--fault", "cleanup-failure")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("teardown", job, "--data-dir", self.dir, "--time-scale", TIME_SCALE)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(self.status(job)["teardown"]["status"], "FAILED")
        self.assertIn("AWS::FSx::FileSystem", {r["type"] for r in self.resources(job)})
        # Fixed (the fault cleared), the same command runs a second attempt to its end.
        p = run("sandbox", "faults", "--sandbox-dir", os.path.join(self.dir, "sandbox"),
                "--job", job)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("teardown", job, "--data-dir", self.dir, "--time-scale", TIME_SCALE)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("starting attempt 2", p.stdout)
        self.assertEqual(self.status(job)["teardown"]["attempt"], 2)
        self.assertEqual(self.status(job)["teardown"]["status"], "SUCCEEDED")
        self.assertEqual(self.resources(job), [])
        self.assertEqual(self.params(f"{PREFIX}/{job}"), {})
        p = run("teardown", job, "--data-dir", self.dir, "--time-scale", TIME_SCALE)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("already torn down", p.stdout)

    def test_no_follow_keeps_the_presets_it_was_given(self):
        presets = os.path.join(self.dir, "presets.json")
        with open(presets, "w") as f:
            json.dump({"presets": {"tiny": {
                "description": "one small GPU node",
                "kubernetesVersion": "1.33",
                "instanceGroups": [{"name": "accelerated", "instanceType": "ml.g5.8xlarge",
                                    "count": 1, "threadsPerCore": 1, "ebsVolumeGb": 200,
                                    "deepHealthChecks": []}],
                "allowedInstanceTypes": ["ml.g5.8xlarge"],
                "fsx": {"deploymentType": "SCRATCH_2", "storageGiB": 1200,
                        "perUnitStorageThroughput": 0},
                "eks": {"nodeInstanceTypes": ["m5.xlarge"], "minSize": 1, "maxSize": 2},
                "limits": {"maxInstanceCountPerGroup": 2, "maxEbsVolumeGb": 500,
                           "maxFsxStorageGiB": 1200, "maxEksNodes": 2,
                           "kubernetesVersions": ["1.33"]}}}}, f)
        job, p = self.deploy("--no-follow", "--presets", presets, "--preset", "tiny", expect=0)
        followed = run("logs", job, "--follow", "--data-dir", self.dir)
        self.assertEqual(followed.returncode, 0, followed.stderr)
        s = self.status(job)
        self.assertEqual(s["status"], "SUCCEEDED", s.get("failure"))
        self.assertEqual(s["outputs"]["preset"], "tiny")

    def test_a_job_id_names_one_deployment(self):
        job, _ = self.deploy(expect=0)
        p = run("deploy", "--data-dir", self.dir, "--time-scale", TIME_SCALE, "--job-id", job,
                "--fault", "cleanup-failure")
        self.assertEqual(p.returncode, 1)
        self.assertIn("already exists", p.stderr)
        self.assertEqual(self.status(job)["status"], "SUCCEEDED")
        # Through the API, under another execution name: refused by the workflow, and the
        # first deployment's cluster and records are left alone.
        before = self.resources(job)
        server = Server(self.dir, TIME_SCALE).start()
        try:
            sfn = client(server.url)
            payload = seed_payload(job, "small", "retrying-client")
            arn = sfn.start_execution(stateMachineArn=DEPLOYMENT, name="retry-" + job[:8],
                                      input=json.dumps(payload))["executionArn"]
            described = wait_for_end(sfn, arn, 60)
        finally:
            server.stop()
        self.assertEqual(described["status"], "FAILED")
        self.assertEqual(described["error"], "JobAlreadyExists")
        self.assertEqual(self.resources(job), before)
        s = self.status(job)
        self.assertEqual(s["status"], "SUCCEEDED")
        self.assertNotIn("failure", s)
        self.assertEqual(self.params(f"{PREFIX}/{job}")[f"{PREFIX}/{job}/status"], "SUCCEEDED")


class CommandLineTest(DataDirTest):
    def test_bad_arguments_are_refused_before_anything_starts(self):
        p = run("deploy", "--data-dir", self.dir, "--fault", "bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("bogus", p.stderr)
        self.assertIn("quota-exhausted", p.stderr)
        p = run("deploy", "--data-dir", self.dir, "--set", "noequals")
        self.assertEqual(p.returncode, 2)
        p = run("status", "nope", "--data-dir", self.dir)
        self.assertEqual(p.returncode, 2)  # no data dir yet
        self.assertFalse(os.path.exists(os.path.join(self.dir, "journal.db")))

    def test_an_unknown_preset_fails_its_guardrail(self):
        job, _ = self.deploy("--preset", "gigantic", expect=1)
        s = self.assert_failed(job, ["PrepareDeploymentConfig"], "GuardrailViolation")
        checks = {c["id"]: c["status"] for c in s["failure"]["guardrails"]["checks"]}
        self.assertEqual(checks["preset.known"], "FAIL")


class ServerTest(DataDirTest):
    def test_the_seed_payload_survives_a_kill_9_during_run_infraforge_task(self):
        job = str(uuid.uuid4())
        payload = seed_payload(job, "medium", "perf-eval-backend")
        server = Server(self.dir, TIME_SCALE).start()
        try:
            sfn = client(server.url)
            arn = sfn.start_execution(stateMachineArn=DEPLOYMENT, name=job,
                                      input=json.dumps(payload))["executionArn"]
            # Wait until InfraForge runs and has created part of the stack.
            deadline = time.time() + 60
            while time.time() < deadline:
                events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                if any(e["type"] == "TaskStarted" for e in events):
                    break
                time.sleep(0.05)
            time.sleep(1.0)
            stacks = own_stacks(self.resources(job))
            self.assertEqual(len(stacks), 1)
            self.assertEqual(stacks[0]["status"], "CREATE_IN_PROGRESS")
        finally:
            server.kill()
        server = Server(self.dir, TIME_SCALE).start()
        try:
            sfn = client(server.url)
            described = wait_for_end(sfn, arn, 120)
            self.assertEqual(described["status"], "SUCCEEDED", described)
            output = json.loads(described["output"])
            self.assertEqual(output["jobId"], job)
            self.assertEqual(output["preset"], "medium")
        finally:
            server.stop()
        stacks = own_stacks(self.resources(job))
        self.assertEqual(len(stacks), 1)
        self.assertEqual(stacks[0]["status"], "CREATE_COMPLETE")
        params = self.params(f"{PREFIX}/{job}")
        self.assertEqual(params[f"{PREFIX}/{job}/clusterArn"], output["clusterArn"])
        self.assertEqual(params[f"{PREFIX}/{job}/stackId"], output["stackId"])


if __name__ == "__main__":
    unittest.main()
