"""The modelvet service client: one method per call of the HTTP API (docs/API.md)."""

import urllib.parse
from typing import Any, Dict, List, Optional

from ._http import Transport
from .job import FileScanJob
from .project import Project
from .records import FileScan, FileScanResult, Model, Record, Workspace

# Spellings accepted for compatibility with snippets written for other file-scanning SDKs.
_INTEGRATION_TYPES = {"CUSTOM": "CUSTOM", "INTEGRATION_TYPE_CUSTOM": "CUSTOM"}
_SENSITIVITIES = {
    "SECRET": "SECRET",
    "PUBLIC": "PUBLIC",
    "VARIABLE_SENSITIVITY_WORKSPACE_SECRET": "SECRET",
    "VARIABLE_SENSITIVITY_USER_SECRET": "SECRET",
    "VARIABLE_SENSITIVITY_PUBLIC": "PUBLIC",
}


def _seg(value: str, what: str) -> str:
    """An id as one URL path segment; anything else is refused before it can reach another route."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return urllib.parse.quote(value, safe="")


def _webhook_path(workspace_id: str, webhook_id: str) -> str:
    return f"/workspaces/{_seg(workspace_id, 'workspace_id')}/webhooks/{_seg(webhook_id, 'webhook_id')}"


class Client:
    """Client of a modelvet server.

    ``Client("http://localhost:8080", "mv_…")`` or ``Client(domain=…, api_key=…, timeout=30)``. ``timeout`` bounds
    each HTTP request in seconds (waiting for a scan has its own bound: ``job.get_status(timeout_sec=…)``).
    Every failed call raises ModelvetError with the HTTP ``status`` and the server's ``message``.
    """

    def __init__(self, domain: str, api_key: str, timeout: float = 30.0) -> None:
        self._http = Transport(domain, api_key, timeout)
        self.domain = self._http.base

    def __repr__(self) -> str:  # never shows the key
        return f"Client(domain={self.domain!r})"

    # Workspaces and keys
    def create_workspace(self, name: str) -> Workspace:
        """Creates a workspace (admin key only); returns it with ``workspace_id``."""
        return Workspace(self._http.request("POST", "/workspaces", {"name": name}))

    def list_workspaces(self) -> List[Workspace]:
        return [Workspace(w) for w in self._http.request("GET", "/workspaces")["workspaces"]]

    def get_workspace(self, workspace_id: str) -> Workspace:
        """The workspace summary: its ``projects`` (with model counts by severity) and ``integrations``."""
        return Workspace(self._http.request("GET", f"/workspaces/{_seg(workspace_id, 'workspace_id')}"))

    def create_api_key(self, workspace_id: str, name: str) -> Record:
        """A key that sees only this workspace; ``api_key`` is shown only in this answer."""
        return Record(self._http.request("POST", f"/workspaces/{_seg(workspace_id, 'workspace_id')}/api-keys",
                                         {"name": name}))

    # Integrations
    def create_integration(self, workspace_id: str, name: str, integration_type: str = "CUSTOM",
                           integration_schema: Optional[List[Dict[str, Any]]] = None) -> str:
        """Stores named values (e.g. ``HUGGINGFACE_API_TOKEN`` with sensitivity ``SECRET``) and returns the
        integration id. SECRET values are encrypted by the server and never returned."""
        kind = _INTEGRATION_TYPES.get(str(integration_type).upper())
        if kind is None:
            raise ValueError(f"integration_type must be 'CUSTOM', got {integration_type!r}")
        fields = []
        for i, var in enumerate(integration_schema or []):
            if not isinstance(var, dict) or "name" not in var or "sensitivity" not in var:
                raise ValueError(f"integration_schema[{i}] needs 'name' and 'sensitivity' (and usually 'value')")
            sensitivity = _SENSITIVITIES.get(str(var["sensitivity"]).upper())
            if sensitivity is None:  # the value is not echoed: it may be the secret put in the wrong slot
                raise ValueError(f"integration_schema[{i}] ({var['name']}): sensitivity must be SECRET or PUBLIC")
            field = {"name": var["name"], "sensitivity": sensitivity}
            if var.get("value") is not None:
                field["value"] = var["value"]
            fields.append(field)
        body = {"name": name, "integration_type": kind, "integration_schema": fields}
        path = f"/workspaces/{_seg(workspace_id, 'workspace_id')}/integrations"
        return self._http.request("POST", path, body)["integration_id"]

    def list_integrations(self, workspace_id: str) -> List[Record]:
        path = f"/workspaces/{_seg(workspace_id, 'workspace_id')}/integrations"
        return [Record(i) for i in self._http.request("GET", path)["integrations"]]

    # Projects
    def create_project(self, name: str, description: Optional[str] = None,
                       workspace_id: Optional[str] = None) -> Project:
        """Creates a project in a workspace; returns a Project with ``project_id`` and ``register_model``."""
        if workspace_id is None:
            raise ValueError("create_project needs workspace_id")
        body: Dict[str, Any] = {"name": name, "workspace_id": workspace_id}
        if description is not None:
            body["description"] = description
        return Project(self._http.request("POST", "/projects", body), self)

    def get_project(self, project_id: str) -> Project:
        return Project(self._http.request("GET", f"/projects/{_seg(project_id, 'project_id')}"), self)

    def list_projects(self, workspace_id: str) -> List[Project]:
        path = f"/workspaces/{_seg(workspace_id, 'workspace_id')}/projects"
        return [Project(p, self) for p in self._http.request("GET", path)["projects"]]

    # Models
    def register_model(self, project_id: str, name: str, model_config: Dict[str, Any],
                       integration_id: Optional[str] = None) -> str:
        """Same as ``Project.register_model``; returns the model id."""
        hf = model_config.get("hugging_face") if isinstance(model_config, dict) else None
        if not isinstance(hf, dict) or not hf.get("model_uri"):
            raise ValueError('model_config must be {"hugging_face": {"model_uri": "org/repo", "revision": …}}')
        body: Dict[str, Any] = {"name": name, "model_config": model_config}
        if integration_id is not None:
            body["integration_id"] = integration_id
        return self._http.request("POST", f"/projects/{_seg(project_id, 'project_id')}/models", body)["model_id"]

    def get_model(self, model_id: str) -> Model:
        """The model with its ``latest_file_scan`` (None before the first scan)."""
        return Model(self._http.request("GET", f"/models/{_seg(model_id, 'model_id')}"))

    def list_models(self, project_id: str) -> List[Model]:
        path = f"/projects/{_seg(project_id, 'project_id')}/models"
        return [Model(m) for m in self._http.request("GET", path)["models"]]

    # File scans
    def start_file_scan(self, model_id: str, project_id: str,
                        ram_request_megabytes: Optional[int] = None) -> FileScanJob:
        """Queues a scan of the model's files; returns its job. ``ram_request_megabytes`` caps the scan's memory."""
        body: Dict[str, Any] = {"model_id": model_id, "project_id": project_id}
        if ram_request_megabytes is not None:
            if isinstance(ram_request_megabytes, bool) or not isinstance(ram_request_megabytes, int) \
                    or ram_request_megabytes <= 0:
                raise ValueError("ram_request_megabytes must be a positive whole number of megabytes")
            body["ram_request_megabytes"] = ram_request_megabytes
        return FileScanJob(self, self._http.request("POST", "/file-scans", body))

    def get_job(self, job_id: str) -> FileScanJob:
        """The job of an existing file scan (the job id is the file scan id)."""
        return FileScanJob(self, self._get_file_scan(job_id, False))

    def get_file_scan_result(self, file_scan_id: str) -> FileScanResult:
        """The scan with its report: ``severity`` (1 Pass, 2 Warning, 3 Alert), ``severity_label``,
        ``file_security_reports`` (each with ``unsafe_dependencies``), ``scanned_files``, ``stats``.
        A job id works too: a file scan is its job."""
        return FileScanResult(self._get_raw_file_scan(file_scan_id, True))

    def list_file_scan_results(self, model_id: str) -> List[FileScanResult]:
        """Every scan of the model, newest first, each with its report."""
        path = f"/models/{_seg(model_id, 'model_id')}/file-scans"
        return [FileScanResult(s) for s in self._http.request("GET", path)["file_scans"]]

    def rejudge_file_scan(self, file_scan_id: str) -> FileScan:
        """Judges a finished scan again with the server's current rules pack, from its stored inventories."""
        return FileScan(self._http.request("POST", f"/file-scans/{_seg(file_scan_id, 'file_scan_id')}/rejudge"))

    def get_rules(self) -> Record:
        """The server's rules pack: ``version``, ``rules`` and ``indicators`` counts."""
        return Record(self._http.request("GET", "/rules"))

    # --- Continuous scanning: follow a revision, the workspace's follow settings, workspace custom rules ---

    def follow_model(self, model_id: str) -> Model:
        """Scans new commits of the model's branch or tag from now on (polling and Hub webhooks)."""
        return Model(self._http.request("PATCH", f"/models/{_seg(model_id, 'model_id')}", {"follow": True}))

    def unfollow_model(self, model_id: str) -> Model:
        """Stops scanning new commits of the model; it stays registered with its history."""
        return Model(self._http.request("PATCH", f"/models/{_seg(model_id, 'model_id')}", {"follow": False}))

    def get_follow_settings(self, workspace_id: str) -> Record:
        """``poll_interval_seconds``, ``hook_secret_set`` and ``hook_path`` (the secret is never returned)."""
        return Record(self._http.request("GET", f"/workspaces/{_seg(workspace_id, 'workspace_id')}/follow"))

    def set_follow_settings(self, workspace_id: str, poll_interval_seconds: Any = ...,
                            hook_secret: Any = ...) -> Record:
        """Sets the poll interval (None: the server's default) and/or the Hub webhook secret (None: refused)."""
        body: Dict[str, Any] = {}
        if poll_interval_seconds is not ...:
            body["poll_interval_seconds"] = poll_interval_seconds
        if hook_secret is not ...:
            body["hook_secret"] = hook_secret
        if not body:
            raise ValueError("give poll_interval_seconds and/or hook_secret")
        path = f"/workspaces/{_seg(workspace_id, 'workspace_id')}/follow"
        return Record(self._http.request("PATCH", path, body))

    def get_workspace_rules(self, workspace_id: str) -> Record:
        """The workspace's custom rules, newest version (``version`` 0 and ``rules`` None when never set)."""
        return Record(self._http.request("GET", f"/workspaces/{_seg(workspace_id, 'workspace_id')}/rules"))

    def set_workspace_rules(self, workspace_id: str, rules: Dict[str, Any]) -> Record:
        """Replaces the custom rules (a ``modelvet scan --rules`` document); latest results are judged again."""
        if not isinstance(rules, dict):
            raise ValueError("rules must be a dict shaped like a --rules file")
        return Record(self._http.request("PUT", f"/workspaces/{_seg(workspace_id, 'workspace_id')}/rules", rules))

    def clear_workspace_rules(self, workspace_id: str) -> Record:
        """Clears the custom rules (a new version without rules); latest results are judged again."""
        return Record(self._http.request("DELETE", f"/workspaces/{_seg(workspace_id, 'workspace_id')}/rules"))

    def list_workspace_rule_versions(self, workspace_id: str) -> List[Record]:
        """Every version of the custom rules, newest first (who and when)."""
        path = f"/workspaces/{_seg(workspace_id, 'workspace_id')}/rules/versions"
        return [Record(v) for v in self._http.request("GET", path)["versions"]]

    # --- Outbound webhooks: new Alerts, severity changes and failed scans of followed models ---
    def create_webhook(self, workspace_id: str, url: str, secret: str, description: Optional[str] = None) -> Record:
        """Adds a webhook; events are POSTed to ``url`` signed with ``secret`` (never returned; check requests
        with ``verify_webhook_signature``). The server refuses non-http(s) URLs and private targets (400)."""
        body: Dict[str, Any] = {"url": url, "secret": secret}
        if description is not None:
            body["description"] = description
        return Record(self._http.request("POST", f"/workspaces/{_seg(workspace_id, 'workspace_id')}/webhooks", body))

    def list_webhooks(self, workspace_id: str) -> List[Record]:
        path = f"/workspaces/{_seg(workspace_id, 'workspace_id')}/webhooks"
        return [Record(w) for w in self._http.request("GET", path)["webhooks"]]

    def get_webhook(self, workspace_id: str, webhook_id: str) -> Record:
        return Record(self._http.request("GET", _webhook_path(workspace_id, webhook_id)))

    def delete_webhook(self, workspace_id: str, webhook_id: str) -> None:
        """Deletes the webhook with its pending deliveries and its log."""
        self._http.request("DELETE", _webhook_path(workspace_id, webhook_id))

    def list_webhook_deliveries(self, workspace_id: str, webhook_id: str) -> List[Record]:
        """The webhook's deliveries, newest first: ``state``, ``attempts``, ``last_status``, ``attempt_log``."""
        path = _webhook_path(workspace_id, webhook_id) + "/deliveries"
        return [Record(d) for d in self._http.request("GET", path)["deliveries"]]

    def _get_raw_file_scan(self, file_scan_id: str, verbose: bool) -> Dict[str, Any]:
        query = {"verbose": "true"} if verbose else None
        return self._http.request("GET", f"/file-scans/{_seg(file_scan_id, 'file_scan_id')}", query=query)

    def _get_file_scan(self, file_scan_id: str, verbose: bool) -> FileScan:
        return FileScan(self._get_raw_file_scan(file_scan_id, verbose))
