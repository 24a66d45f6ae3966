"""A tiny in-memory stand-in for the modelvet API (docs/API.md), on loopback, for the SDK's unit tests.

It records every request, answers 401 to a wrong key and 404 to an unknown id, and walks each file scan through
queued → running → succeeded one status poll at a time. ``script`` queues canned answers for a path.
"""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

# A report as the engine writes it; tests/test_schema.py holds it to the report schema.
REPORT = {
    "severity": 3,
    "severity_label": "Alert",
    "rules_version": "2026.11.26",
    "file_security_reports": [
        {
            "path": "pytorch_model.bin",
            "size": 1_500_000,
            "formats": ["pytorch-zip", "pickle"],
            "severity": 3,
            "unsafe_dependencies": [{"module": "os", "name": "system", "severity": 3, "rule": "deny-os",
                                     "reason": "runs a shell command", "references": [],
                                     "locations": [{"member": "archive/data.pkl", "offset": 2}]}],
            "indicators": [],
            "errors": [],
        }
    ],
    "scanned_files": [{"path": "pytorch_model.bin", "severity": 3, "formats": ["pytorch-zip", "pickle"],
                       "bytes_read": 1_500_000, "size": 1_500_000}],
    "stats": {"files": 1, "bytes_total": 1_500_000, "bytes_read": 1_500_000, "duration_ms": 12},
}
FILES_TOTAL = 2


class FakeApi:
    def __init__(self, api_key: str = "mv_test_key", polls_until_done: int = 2) -> None:
        self.api_key = api_key
        self.polls_until_done = polls_until_done
        self.requests: List[Dict[str, Any]] = []
        self.script: Dict[str, List[Tuple[int, Any]]] = {}
        self.objects: Dict[str, Dict[str, Any]] = {}
        self.polls: Dict[str, int] = {}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, answer, headers = api.handle(self.command, self.path, dict(self.headers), body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for it, once per test.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, headers: Dict[str, str], body: Any) -> Tuple[int, Any, Dict[str, str]]:
        self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
        route = path.split("?", 1)[0]
        if self.script.get(route):
            status, answer = self.script[route].pop(0)
            return status, answer, {"Location": "http://elsewhere.invalid/"} if status in (301, 302) else {}
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, {"error": "Unauthorized", "message": "Send a valid API key."}, {}
        status, answer = self.route(method, route.split("/")[3:], "verbose=true" in path, body)
        return status, answer, {}

    def add(self, kind: str, obj: Dict[str, Any]) -> Dict[str, Any]:
        self.objects[obj[f"{kind}_id"]] = obj
        return obj

    def get(self, oid: str) -> Optional[Dict[str, Any]]:
        return self.objects.get(oid)

    def route(self, method: str, parts: List[str], verbose: bool, body: Any) -> Tuple[int, Any]:
        not_found = (404, {"error": "NotFound", "message": f"No such object: {'/'.join(parts)}."})
        new_id = str(uuid.uuid4())
        if method == "POST" and parts == ["workspaces"]:
            return 201, self.add("workspace", {"workspace_id": new_id, "name": body["name"], "created_at": "t"})
        if method == "GET" and parts == ["workspaces"]:
            workspaces = [o for o in self.objects.values() if "workspace_id" in o and "project_id" not in o]
            return 200, {"workspaces": workspaces}
        if len(parts) >= 2 and parts[0] == "workspaces":
            if not self.get(parts[1]):
                return not_found
            if len(parts) == 2:
                return 200, {**self.objects[parts[1]], "projects": [], "integrations": []}
            if parts[2] == "integrations" and method == "POST":
                fields = [{k: v for k, v in f.items() if k != "value" or f["sensitivity"] == "PUBLIC"}
                          for f in body["integration_schema"]]
                return 201, {"integration_id": new_id, "name": body["name"], "integration_type": "CUSTOM",
                             "fields": fields}
        if method == "POST" and parts == ["projects"]:
            if not self.get(body["workspace_id"]):
                return not_found
            return 201, self.add("project", {"project_id": new_id, "workspace_id": body["workspace_id"],
                                             "name": body["name"], "description": body.get("description"),
                                             "created_at": "t"})
        if parts[:1] == ["projects"] and len(parts) == 3 and self.get(parts[1]):
            if method == "POST":
                hf = body["model_config"]["hugging_face"]
                config = {"hugging_face": {"model_uri": hf["model_uri"], "revision": hf.get("revision", "main"),
                                           "follow": hf.get("follow", True)}}
                return 201, self.add("model", {"model_id": new_id, "project_id": parts[1],
                                               "workspace_id": self.objects[parts[1]]["workspace_id"],
                                               "name": body["name"], "created_at": "t", "model_config": config,
                                               "integration_id": body.get("integration_id"),
                                               "latest_file_scan": None})
            return 200, {"models": [o for o in self.objects.values() if o.get("project_id") == parts[1]
                                    and "model_id" in o and "file_scan_id" not in o]}
        if parts[:1] == ["models"] and self.get(parts[1]):
            if len(parts) == 2:
                return 200, self.objects[parts[1]]
            scans = [self.scan_view(o, True) for o in self.objects.values()
                     if o.get("model_id") == parts[1] and "file_scan_id" in o]
            return 200, {"file_scans": scans[::-1]}
        if method == "POST" and parts == ["file-scans"]:
            if not self.get(body["model_id"]):
                return not_found
            scan = {"file_scan_id": new_id, "job_id": new_id, "model_id": body["model_id"],
                    "project_id": body["project_id"], "workspace_id": self.objects[body["model_id"]]["workspace_id"],
                    "status": "queued", "error": None, "severity": None, "severity_label": None,
                    "ram_request_megabytes": body.get("ram_request_megabytes"), "created_at": "t",
                    "started_at": None, "finished_at": None, "rules_version": None, "rules_outdated": False,
                    "commit": None, "revision": None, "reason": None}
            self.polls[new_id] = 0
            return 202, self.add("file_scan", scan)
        if parts[:1] == ["file-scans"] and len(parts) >= 2 and self.get(parts[1]):
            if len(parts) == 3:
                return 200, {**self.scan_view(self.objects[parts[1]], False), "rules_outdated": False}
            self.polls[parts[1]] += 1
            return 200, self.scan_view(self.objects[parts[1]], verbose)
        return not_found

    def scan_view(self, scan: Dict[str, Any], with_result: bool) -> Dict[str, Any]:
        polls = self.polls[scan["file_scan_id"]]
        # Progress moves one file (1.5 MB) per poll while running, so a verbose wait has changes to print.
        files_done = min(max(polls - 1, 0), FILES_TOTAL)
        if polls >= self.polls_until_done:
            scan.update(status="succeeded", severity=3, severity_label="Alert", rules_version="2026.11.26",
                        started_at="t", finished_at="t", commit="a" * 40)
            files_done = FILES_TOTAL
        elif polls >= 1:
            scan.update(status="running")
        scan["progress"] = {"files_done": files_done, "files_total": FILES_TOTAL if polls >= 1 else 0,
                            "bytes_read": files_done * 1_500_000}
        view = dict(scan)
        if with_result and scan["status"] == "succeeded":
            view["result"] = REPORT
        return view
