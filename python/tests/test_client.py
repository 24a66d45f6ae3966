"""Unit tests of the Python SDK against an in-memory fake of the API (standard library only).

Run: /usr/bin/python3 -m unittest discover -s python/tests
"""

import contextlib
import io
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fake_server import FakeApi  # noqa: E402

from modelvet_sdk import (  # noqa: E402
    Client,
    FileScanJob,
    FileScanResult,
    ModelvetError,
    ModelvetTimeoutError,
    Project,
    Workspace,
)
from modelvet_sdk.job import status_line  # noqa: E402

KEY = "mv_test_key"


class ClientTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.api = FakeApi(KEY)
        self.client = Client(self.api.url, KEY)

    def tearDown(self) -> None:
        self.api.close()

    def last(self):
        return self.api.requests[-1]

    def registered_model(self):
        ws = self.client.create_workspace("ws")
        project = self.client.create_project("p", "d", ws.workspace_id)
        model_id = project.register_model("m", {"hugging_face": {"model_uri": "org/repo"}})
        return ws, project, model_id


class ConstructionTest(ClientTestCase):
    def test_positional_keyword_and_trailing_slash(self) -> None:
        for client in (Client(self.api.url + "/", KEY), Client(domain=self.api.url, api_key=KEY),
                       Client(self.api.url + "/api/v1/", KEY)):
            self.assertEqual(client.domain, self.api.url)
            self.assertEqual(client.list_workspaces(), [])
        self.assertEqual(self.last()["path"], "/api/v1/workspaces")

    def test_domain_without_scheme(self) -> None:
        self.assertEqual(Client("localhost:8080", KEY).domain, "http://localhost:8080")
        self.assertEqual(Client("modelvet.example.com", KEY).domain, "https://modelvet.example.com")

    def test_bad_arguments(self) -> None:
        for domain, key in (("", KEY), ("ftp://x", KEY), (self.api.url, "")):
            with self.assertRaises(ValueError):
                Client(domain, key)
        with self.assertRaises(ValueError):
            Client(self.api.url, KEY, timeout=0)

    def test_repr_hides_the_key(self) -> None:
        self.assertNotIn(KEY, repr(self.client))
        self.assertNotIn(KEY, repr(self.client.__dict__))


class CallsTest(ClientTestCase):
    def test_sends_the_key_and_json(self) -> None:
        self.client.create_workspace("ws")
        req = self.last()
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["headers"]["Authorization"], f"Bearer {KEY}")
        self.assertEqual(req["headers"]["Content-Type"], "application/json")
        self.assertEqual(req["body"], {"name": "ws"})

    def test_workspace_record(self) -> None:
        ws = self.client.create_workspace("ws")
        self.assertIsInstance(ws, Workspace)
        self.assertEqual(ws.name, "ws")
        self.assertEqual(ws["workspace_id"], ws.workspace_id)
        self.assertEqual(ws.raw, json.loads(json.dumps(ws)))
        self.assertEqual([w.workspace_id for w in self.client.list_workspaces()], [ws.workspace_id])
        summary = self.client.get_workspace(ws.workspace_id)
        self.assertEqual((summary.projects, summary.integrations), ([], []))
        with self.assertRaises(AttributeError):
            ws.name = "other"
        with self.assertRaisesRegex(AttributeError, "no field 'nope'"):
            ws.nope  # noqa: B018

    def test_create_integration_returns_the_id(self) -> None:
        ws = self.client.create_workspace("ws")
        schema = [{"name": "HUGGINGFACE_API_TOKEN", "sensitivity": "SECRET", "value": "hf_secret"},
                  {"name": "NOTE", "sensitivity": "VARIABLE_SENSITIVITY_PUBLIC", "value": "x"},
                  {"name": "EMPTY", "sensitivity": "VARIABLE_SENSITIVITY_WORKSPACE_SECRET"}]
        integration_id = self.client.create_integration(ws.workspace_id, "hf", "CUSTOM", schema)
        self.assertIsInstance(integration_id, str)
        req = self.last()
        self.assertEqual(req["path"], f"/api/v1/workspaces/{ws.workspace_id}/integrations")
        self.assertEqual(req["body"], {
            "name": "hf", "integration_type": "CUSTOM",
            "integration_schema": [{"name": "HUGGINGFACE_API_TOKEN", "sensitivity": "SECRET", "value": "hf_secret"},
                                   {"name": "NOTE", "sensitivity": "PUBLIC", "value": "x"},
                                   {"name": "EMPTY", "sensitivity": "SECRET"}]})

    def test_create_integration_validates_without_echoing_values(self) -> None:
        with self.assertRaisesRegex(ValueError, "integration_type"):
            self.client.create_integration("w", "hf", "AWS", [])
        with self.assertRaisesRegex(ValueError, r"integration_schema\[0\]"):
            self.client.create_integration("w", "hf", integration_schema=[{"value": "x"}])
        with self.assertRaises(ValueError) as ctx:
            self.client.create_integration("w", "hf", integration_schema=[
                {"name": "T", "sensitivity": "hf_oops_secret", "value": "hf_oops_secret"}])
        self.assertNotIn("hf_oops_secret", str(ctx.exception))

    def test_project_and_models(self) -> None:
        ws = self.client.create_workspace("ws")
        project = self.client.create_project("p", "d", ws.workspace_id)
        self.assertIsInstance(project, Project)
        self.assertEqual(self.last()["body"], {"name": "p", "description": "d", "workspace_id": ws.workspace_id})
        config = {"hugging_face": {"model_uri": "org/repo", "revision": "main"}}
        model_id = project.register_model("m", config, integration_id="i-1")
        self.assertIsInstance(model_id, str)
        self.assertEqual(self.last()["path"], f"/api/v1/projects/{project.project_id}/models")
        self.assertEqual(self.last()["body"], {"name": "m", "model_config": config, "integration_id": "i-1"})
        model = self.client.get_model(model_id)
        self.assertEqual((model.name, model.model_config.hugging_face.model_uri), ("m", "org/repo"))
        self.assertIsNone(model.latest_file_scan)
        self.assertEqual([m.model_id for m in self.client.list_models(project.project_id)], [model_id])
        self.client.create_project(name="q", workspace_id=ws.workspace_id)
        self.assertNotIn("description", self.last()["body"])

    def test_model_config_and_ids_are_checked_locally(self) -> None:
        with self.assertRaisesRegex(ValueError, "model_uri"):
            self.client.register_model("p", "m", {"hugging_face": {}})
        with self.assertRaisesRegex(ValueError, "model_id"):
            self.client.get_model("")
        with self.assertRaisesRegex(ValueError, "workspace_id"):
            self.client.create_project("p", "d")
        with self.assertRaisesRegex(ValueError, "ram_request_megabytes"):
            self.client.start_file_scan("m", "p", ram_request_megabytes=0)

    def test_ids_stay_one_path_segment(self) -> None:
        with self.assertRaises(ModelvetError):
            self.client.get_model("../workspaces")
        self.assertEqual(self.last()["path"], "/api/v1/models/..%2Fworkspaces")


class FileScanTest(ClientTestCase):
    def test_start_wait_and_read_the_result(self) -> None:
        _, project, model_id = self.registered_model()
        job = self.client.start_file_scan(model_id=model_id, project_id=project.project_id, ram_request_megabytes=512)
        self.assertIsInstance(job, FileScanJob)
        self.assertEqual(self.last()["body"],
                         {"model_id": model_id, "project_id": project.project_id, "ram_request_megabytes": 512})
        self.assertEqual(job.job_id, job.file_scan_id)
        self.assertEqual(job.started.status, "queued")
        with contextlib.redirect_stdout(io.StringIO()):
            status = job.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=0.01)
        self.assertEqual(status["status"], "succeeded")
        self.assertEqual(status.result.severity, 3)
        self.assertIn("verbose=true", self.last()["path"])

        result = self.client.get_file_scan_result(file_scan_id=job.job_id)
        self.assertIsInstance(result, FileScanResult)
        self.assertEqual((result.severity, result.severity_label), (3, "Alert"))
        dep = result.file_security_reports[0]["unsafe_dependencies"][0]
        self.assertEqual((dep["module"], dep.name), ("os", "system"))
        self.assertEqual(result["file_security_reports"][0].unsafe_dependencies[0].module, "os")
        self.assertNotIn("result", result)  # the report is flattened in, not repeated
        self.assertNotIn("file_security_reports", result.raw)  # raw is the wire form: the report under result
        self.assertEqual(result.raw["result"]["file_security_reports"][0]["path"], "pytorch_model.bin")

        results = self.client.list_file_scan_results(model_id)
        self.assertEqual([r.file_scan_id for r in results], [job.job_id])
        self.assertEqual(results[0].file_security_reports[0].path, "pytorch_model.bin")
        self.assertEqual(self.client.get_job(job.job_id), job)

    def test_status_without_waiting_and_report_before_finish(self) -> None:
        _, project, model_id = self.registered_model()
        job = self.client.start_file_scan(model_id, project.project_id)
        self.assertNotIn("ram_request_megabytes", self.last()["body"])
        status = job.get_status()
        self.assertEqual(status.status, "running")
        self.assertNotIn("verbose", self.last()["path"])
        self.api.polls_until_done = 99
        early = self.client.get_file_scan_result(job.job_id)
        with self.assertRaisesRegex(AttributeError, "no report yet"):
            early.file_security_reports  # noqa: B018

    def test_verbose_wait_prints_one_line_per_change(self) -> None:
        self.api.polls_until_done = 5
        _, project, model_id = self.registered_model()
        job = self.client.start_file_scan(model_id, project.project_id)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = job.get_status(verbose=True, wait_until_finish=True, poll_rate_sec=0.01)
        self.assertEqual(status.status, "succeeded")
        prefix = f"file scan {job.job_id}: "
        self.assertEqual(out.getvalue().splitlines(), [
            prefix + "running: 0 of 2 files, 0 B read",
            prefix + "running: 1 of 2 files, 1.5 MB read",
            prefix + "running: 2 of 2 files, 3.0 MB read",
            prefix + "succeeded: Alert, 2 of 2 files, 3.0 MB read",
        ])
        # The same answer twice prints nothing new; without verbose nothing is printed at all.
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            job.get_status(verbose=True)
            job.get_status()
        self.assertEqual(out.getvalue().splitlines(), [prefix + "succeeded: Alert, 2 of 2 files, 3.0 MB read"])

    def test_status_lines(self) -> None:
        self.assertEqual(status_line({"status": "queued", "progress": {"files_done": 0, "files_total": 0}}), "queued")
        self.assertEqual(status_line({"status": "failed", "error": "the token cannot read org/x"}),
                         "failed: the token cannot read org/x")
        self.assertEqual(status_line({"status": "running", "progress": {"files_done": 3, "files_total": 9,
                                                                         "bytes_read": 4_200_000_000}}),
                         "running: 3 of 9 files, 4.2 GB read")
        self.assertEqual(status_line({"status": "running", "progress": {"bytes_read": 999}}), "running: 999 B read")
        self.assertEqual(status_line({"status": "running", "progress": None}), "running")

    def test_wait_is_bounded(self) -> None:
        self.api.polls_until_done = 10**6
        _, project, model_id = self.registered_model()
        job = self.client.start_file_scan(model_id, project.project_id)
        began = time.monotonic()
        with self.assertRaisesRegex(ModelvetTimeoutError, "did not finish within"):
            job.get_status(wait_until_finish=True, poll_rate_sec=0.05, timeout_sec=0.3)
        self.assertLess(time.monotonic() - began, 2)

    def test_wait_rides_out_a_restart_but_not_a_404(self) -> None:
        _, project, model_id = self.registered_model()
        job = self.client.start_file_scan(model_id, project.project_id)
        route = f"/api/v1/file-scans/{job.job_id}"
        self.api.script[route] = [(503, {"error": "Unavailable", "message": "Restarting."})] * 2
        self.assertEqual(job.get_status(wait_until_finish=True, poll_rate_sec=0.01).status, "succeeded")
        self.api.script[route] = [(503, {"error": "Unavailable", "message": "Restarting."})]
        with self.assertRaises(ModelvetError) as ctx:
            job.get_status()
        self.assertEqual(ctx.exception.status, 503)
        self.api.script[route] = [(404, {"error": "NotFound", "message": "No such file scan."})]
        with self.assertRaises(ModelvetError) as ctx:
            job.get_status(wait_until_finish=True, poll_rate_sec=0.01)
        self.assertEqual(ctx.exception.status, 404)

    def test_rejudge(self) -> None:
        _, project, model_id = self.registered_model()
        job = self.client.start_file_scan(model_id, project.project_id)
        job.get_status(wait_until_finish=True, poll_rate_sec=0.01)
        rejudged = self.client.rejudge_file_scan(job.job_id)
        self.assertEqual((self.last()["method"], rejudged.rules_outdated), ("POST", False))


class ErrorsTest(ClientTestCase):
    def test_server_message_and_status(self) -> None:
        with self.assertRaises(ModelvetError) as ctx:
            self.client.get_workspace("00000000-0000-0000-0000-000000000000")
        err = ctx.exception
        self.assertEqual((err.status, err.code), (404, "NotFound"))
        self.assertIn("No such object", err.message)
        self.assertTrue(str(err).startswith("404 NotFound: "))

    def test_wrong_key_never_in_the_message(self) -> None:
        wrong = "mv_wrong_key_value"
        self.api.script["/api/v1/workspaces"] = [
            (401, {"error": "Unauthorized", "message": f"Unknown key {wrong}."})]
        with self.assertRaises(ModelvetError) as ctx:
            Client(self.api.url, wrong).list_workspaces()
        self.assertEqual(ctx.exception.status, 401)
        self.assertNotIn(wrong, str(ctx.exception) + repr(ctx.exception) + ctx.exception.message)

    def test_non_json_error_and_redirect(self) -> None:
        self.api.script["/api/v1/workspaces"] = [(502, b"<html>bad gateway</html>"), (302, {})]
        with self.assertRaises(ModelvetError) as ctx:
            self.client.list_workspaces()
        self.assertEqual((ctx.exception.status, ctx.exception.code), (502, None))
        self.assertIn("HTTP 502", ctx.exception.message)
        with self.assertRaisesRegex(ModelvetError, "redirect"):
            self.client.list_workspaces()
        self.assertEqual(len([r for r in self.api.requests if "elsewhere" in r["path"]]), 0)

    def test_unreachable_server(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with self.assertRaises(ModelvetError) as ctx:
            Client(f"http://127.0.0.1:{port}", KEY, timeout=2).list_workspaces()
        self.assertIsNone(ctx.exception.status)
        self.assertIn("could not reach", str(ctx.exception))
        self.assertNotIn(KEY, str(ctx.exception))

    def test_request_timeout(self) -> None:
        with socket.socket() as s:  # accepts connections (backlog) but never answers
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            client = Client(f"http://127.0.0.1:{s.getsockname()[1]}", KEY, timeout=0.3)
            with self.assertRaises(ModelvetTimeoutError):
                client.list_workspaces()


class RimeSdkNameTest(unittest.TestCase):
    def test_rime_sdk_is_the_same_client(self) -> None:
        import modelvet_sdk
        import rime_sdk

        self.assertIs(rime_sdk.Client, modelvet_sdk.Client)
        self.assertEqual(rime_sdk.__all__, modelvet_sdk.__all__)
        for name in modelvet_sdk.__all__:
            self.assertIs(getattr(rime_sdk, name), getattr(modelvet_sdk, name), name)


if __name__ == "__main__":
    unittest.main()

