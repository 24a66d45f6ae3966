"""The Python SDK's records checked against the API's one schema (@modelvet/schema's dist/schemas.json).

The server validates and serialises with these schemas and the TypeScript SDK takes its types from them; this
suite holds the Python side to the same definitions: every record the client returns, read as ``.raw``, must
validate against the schema of its shape, and the report fields FileScanResult lifts must be report fields.
Needs Debian's python3-jsonschema and a built tree (``npm run build``); skips visibly without either.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fake_server import FakeApi  # noqa: E402

from modelvet_sdk import Client  # noqa: E402
from modelvet_sdk import records  # noqa: E402
from modelvet_sdk.records import REPORT_FIELDS  # noqa: E402

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packages", "schema", "dist",
                       "schemas.json")
KEY = "mv_test_key"

try:
    import jsonschema
except ImportError:  # pragma: no cover - depends on the machine
    jsonschema = None

SKIP = ("python3-jsonschema is not installed (apt-get install python3-jsonschema)" if jsonschema is None
        else None if os.path.exists(SCHEMAS) else "packages/schema/dist/schemas.json is missing: run npm run build")


@unittest.skipIf(SKIP is not None, SKIP or "")
class RecordsMatchTheSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        with open(SCHEMAS, encoding="utf-8") as f:
            cls.defs = json.load(f)["$defs"]

    def setUp(self) -> None:
        self.api = FakeApi(KEY, polls_until_done=1)
        self.client = Client(self.api.url, KEY)

    def tearDown(self) -> None:
        self.api.close()

    def check(self, name: str, record) -> None:
        validator = jsonschema.Draft202012Validator(self.defs[name], format_checker=jsonschema.FormatChecker())
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                    for e in validator.iter_errors(record.raw)]
        self.assertEqual(problems, [], f"{name} does not match the schema")

    def test_every_record_matches_its_schema(self) -> None:
        ws = self.client.create_workspace("ws")
        self.check("Workspace", ws)
        self.check("WorkspaceSummary", self.client.get_workspace(ws.workspace_id))
        project = self.client.create_project("p", "d", ws.workspace_id)
        self.check("Project", project)
        model_id = project.register_model("m", {"hugging_face": {"model_uri": "org/repo"}})
        self.check("Model", self.client.get_model(model_id))
        job = self.client.start_file_scan(model_id, project.project_id)
        result = job.get_status()
        self.check("FileScan", result)
        self.assertEqual(result.status, "succeeded")
        self.check("FileScan", self.client.get_file_scan_result(job.job_id))
        for listed in self.client.list_file_scan_results(model_id):
            self.check("FileScan", listed)

    def test_a_record_that_breaks_the_schema_is_caught(self) -> None:
        # The check itself must be able to fail: an id of the wrong type does not pass.
        ws = self.client.create_workspace("ws")
        broken = ws.raw
        broken["workspace_id"] = 42
        with self.assertRaises(AssertionError):
            self.check("Workspace", type(ws)(broken))

    def test_record_annotations_name_schema_fields(self) -> None:
        # The attributes records.py declares for editors are fields of the schema of the same name.
        for name in ("Workspace", "Model", "FileScan"):
            declared = set(getattr(records, name).__annotations__)
            self.assertTrue(declared <= set(self.defs[name]["properties"]), f"{name}: {declared}")
        self.assertIn("file_security_reports", records.FileScanResult.__annotations__)

    def test_lifted_report_fields_are_report_fields(self) -> None:
        report = self.defs["ScanReport"]
        self.assertTrue(set(REPORT_FIELDS) <= set(report["required"]), REPORT_FIELDS)


if __name__ == "__main__":
    unittest.main()
