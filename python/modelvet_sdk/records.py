"""Views of the API's JSON objects, readable by key or attribute.

Every object the client returns is a ``Record``: a ``dict`` of the server's fields whose keys can also be read as
attributes, at any depth. So ``result.severity`` and ``result["severity"]`` are the same, and so are
``result.file_security_reports[0].unsafe_dependencies`` and
``result["file_security_reports"][0]["unsafe_dependencies"]``. Being a ``dict`` keeps ``print``, ``json.dumps``
and ``==`` working as with the plain JSON. ``.raw`` is the server's answer as plain dicts and lists, as received.
"""

import copy
from typing import Any, Dict, List, Optional


def wrap(value: Any) -> Any:
    """Turns nested dicts into Records (lists are copied), so attribute access works at any depth."""
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


class Record(dict):
    """A dict of API fields, readable as attributes. None of the API's field names clash with dict methods."""

    def __init__(self, raw: Dict[str, Any], fields: Optional[Dict[str, Any]] = None) -> None:
        # ``fields`` lets a subclass show a view that differs from the wire form (FileScanResult lifts its report).
        super().__init__({k: wrap(v) for k, v in (raw if fields is None else fields).items()})
        object.__setattr__(self, "_raw", raw)

    @property
    def raw(self) -> Dict[str, Any]:
        """The server's JSON for this object, as plain dicts and lists (a copy: mutating it changes nothing here)."""
        return copy.deepcopy(self._raw)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(self._missing(name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def _missing(self, name: str) -> str:
        return f"{type(self).__name__} has no field {name!r}"

    def __repr__(self) -> str:
        # Nested values print as the plain JSON they are; only the top object names its type.
        body = dict.__repr__(self)
        return body if type(self) is Record else f"{type(self).__name__}({body})"

    # A deep copy or pickle of a Record must stay a Record (dict subclasses otherwise lose _raw).
    def __reduce__(self) -> Any:
        return (type(self)._restore, (self._raw,))

    @classmethod
    def _restore(cls, raw: Dict[str, Any]) -> "Record":
        return cls(raw)


class Workspace(Record):
    """``workspace_id``, ``name``, ``created_at``; ``get_workspace`` adds ``projects`` and ``integrations``."""

    workspace_id: str
    name: str
    created_at: str


class Model(Record):
    """A registered model: ``model_id``, ``project_id``, ``name``, ``model_config``, ``integration_id``,
    ``latest_file_scan`` (a dict or None)."""

    model_id: str
    project_id: str
    name: str


class FileScan(Record):
    """A file scan, which is its own job (``job_id == file_scan_id``): ``status`` (queued, running, succeeded,
    failed), ``progress``, ``error``, ``severity`` (1 Pass, 2 Warning, 3 Alert, None until judged),
    ``severity_label``, ``rules_version``, ``rules_outdated``, ``commit``; ``result`` when asked for verbosely."""

    file_scan_id: str
    job_id: str
    status: str
    severity: Optional[int]


# The scan report's own fields, lifted to the top of a FileScanResult (the rest are the FileScan's).
REPORT_FIELDS = ("file_security_reports", "scanned_files", "stats")


class FileScanResult(FileScan):
    """A FileScan with its report flattened in: the scan's fields (``severity``, ``severity_label``,
    ``rules_version``, ``status``, …) plus the report's ``file_security_reports``, ``scanned_files`` and ``stats``,
    once each (the nested ``result`` is not repeated, so printing it shows the report once). Until the scan has
    succeeded the report fields are absent; ``status`` and ``error`` say why. ``raw`` is the server's FileScan
    exactly, with the report under ``result``."""

    file_security_reports: List[Any]

    def __init__(self, raw: Dict[str, Any], fields: Optional[Dict[str, Any]] = None) -> None:
        report = raw.get("result") if isinstance(raw.get("result"), dict) else {}
        lifted = {k: v for k, v in raw.items() if k != "result"}
        lifted.update({k: report[k] for k in REPORT_FIELDS if k in report})
        super().__init__(raw, lifted if fields is None else fields)

    def _missing(self, name: str) -> str:
        if name in REPORT_FIELDS and self.get("status") != "succeeded":
            detail = f": {self['error']}" if self.get("error") else ""
            return f"file scan {self.get('file_scan_id')} has no report yet (status {self.get('status')}{detail})"
        return super()._missing(name)
