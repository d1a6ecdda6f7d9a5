"""The base of the platform REST API suites: one topology per test class, its tokens, and helpers.

A suite is written once as a mixin and run in both topologies by two subclasses:

    class DeploymentTests:                       # the tests, no TestCase base
        def test_x(self): ...
    class EmbeddedDeploymentTest(DeploymentTests, PlatformCase): TOPOLOGY = "embedded"
    class SplitDeploymentTest(DeploymentTests, PlatformCase): TOPOLOGY = "split"

HPD_TOPOLOGY=embedded|split skips the other. Each class gets tokens: admin, alice and bob
(deployers), viewer; `self.admin`, `self.alice`, `self.bob`, `self.viewer` are Api clients.
Failure messages carry the servers' log tails.
"""

import json
import time
import unittest
import uuid

import serving
from rest_api import Api, follow, wait_for

DEPLOYMENTS = "/api/v1/hyperpod/deployments"
ACCOUNT = "123456789012"
DEPLOYMENT_MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:hyperpod-deployment"
STATES = ["PrepareDeploymentConfig", "RunInfraForgeTask", "PostDeploymentValidation",
          "PersistDeploymentOutputs"]
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def deployment_body(job_id=None, **config):
    body = {"config": {"preset": "small", "region": "us-west-2"}}
    body["config"].update(config)
    if job_id:
        body["jobId"] = job_id
    return body


def new_job_id(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class PlatformCase(unittest.TestCase):
    TOPOLOGY = None  # "embedded" or "split"
    API_FLAGS = ()
    ENGINE_FLAGS = ()
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        if cls.TOPOLOGY is None:
            raise unittest.SkipTest("a base class")
        if not serving.topology_enabled(cls.TOPOLOGY):
            raise unittest.SkipTest(f"HPD_TOPOLOGY excludes {cls.TOPOLOGY}")
        cls.topo = serving.TOPOLOGIES[cls.TOPOLOGY](api_flags=cls.API_FLAGS,
                                                    engine_flags=cls.ENGINE_FLAGS)
        cls.tokens = {
            "admin": cls.topo.token("admin", "admin"),
            "alice": cls.topo.token("alice", "deployer"),
            "bob": cls.topo.token("bob", "deployer"),
            "viewer": cls.topo.token("viewer", "viewer"),
        }
        try:
            cls.topo.start()
        except Exception:
            cls.topo.stop()
            cls.topo.cleanup()
            raise
        cls.connect()

    @classmethod
    def connect(cls):
        url = cls.topo.api_url
        cls.anonymous = Api(url, None)
        cls.admin = Api(url, cls.tokens["admin"])
        cls.alice = Api(url, cls.tokens["alice"])
        cls.bob = Api(url, cls.tokens["bob"])
        cls.viewer = Api(url, cls.tokens["viewer"])

    @classmethod
    def tearDownClass(cls):
        cls.topo.stop()
        cls.topo.cleanup()

    def run(self, result=None):
        # Servers' log tails on failure: what the lead needs to see why.
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            try:
                print(f"\n=== {self.id()} failed; server logs ({self.TOPOLOGY}):\n"
                      f"{self.topo.logs()}")
            except Exception:
                pass
        return out

    # --- helpers -----------------------------------------------------------------------------

    def assertStatus(self, response, status, code=None):
        self.assertEqual(response.status, status, response.describe())
        if code is not None:
            self.assertEqual(response.error["code"], code, response.describe())

    def create(self, api=None, body=None, expect=202, **kw):
        api = api or self.alice
        r = api.post(DEPLOYMENTS, body if body is not None else deployment_body(new_job_id()),
                     **kw)
        self.assertStatus(r, expect)
        return r.json

    def get(self, job_id, api=None):
        r = (api or self.admin).get(f"{DEPLOYMENTS}/{job_id}")
        self.assertStatus(r, 200)
        return r.json

    def wait_deployment(self, job_id, predicate, what, timeout=240):
        last = {}

        def check():
            last["d"] = self.get(job_id)
            return last["d"] if predicate(last["d"]) else None

        try:
            return wait_for(check, timeout, f"{job_id}: {what}", interval=0.3)
        except AssertionError as e:
            raise AssertionError(f"{e}; last: {json.dumps(last.get('d'))[:3000]}")

    def wait_phase(self, job_id, phase, timeout=240):
        return self.wait_deployment(job_id, lambda d: d["phase"] == phase, f"phase {phase}",
                                    timeout)

    def events(self, job_id, api=None, **kw):
        """The deployment's whole event stream, to its end."""
        return follow(api or self.admin, f"{DEPLOYMENTS}/{job_id}/events", **kw)

    def list_all(self, api=None, **query):
        """Every page of the list; the deployments."""
        api = api or self.admin
        out, token = [], None
        for _ in range(1000):
            q = dict(query)
            if token:
                q["nextToken"] = token
            r = api.get(DEPLOYMENTS, query=q)
            self.assertStatus(r, 200)
            out += r.json["deployments"]
            token = r.json["nextToken"]
            if not token:
                return out
        self.fail("more than 1000 pages")

    def executions(self):
        """Every execution of every state machine of the engine (ListExecutions via boto3)."""
        sfn = serving.client(self.topo.engine_url)
        arns = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            paginator = sfn.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=machine["stateMachineArn"]):
                arns += [e["executionArn"] for e in page["executions"]]
        return sorted(arns)

    def resources(self, job_id):
        return serving.sandbox_resources(self.topo.engine_data_dir, job_id)


def both_topologies(mixin, module_globals):
    """Defines Embedded<Name> and Split<Name> TestCases in `module_globals` from `mixin`."""
    name = mixin.__name__
    for topology in ("embedded", "split"):
        cls_name = topology.capitalize() + name
        module_globals[cls_name] = type(cls_name, (mixin, PlatformCase),
                                        {"TOPOLOGY": topology, "__module__":
                                         module_globals["__name__"]})


def sleep_briefly():
    time.sleep(0.05)
