"""Python client of the modelvet service (standard library only).

    from modelvet_sdk import Client
    client = Client("http://localhost:8080", "mv_…")
"""

from ._http import __version__
from .client import Client
from .errors import ModelvetError, ModelvetTimeoutError
from .job import FileScanJob
from .project import Project
from .records import FileScan, FileScanResult, Model, Record, Workspace
from .webhooks import WEBHOOK_TOLERANCE_SECONDS, verify_webhook_signature

__all__ = [
    "Client",
    "FileScan",
    "FileScanJob",
    "FileScanResult",
    "Model",
    "ModelvetError",
    "ModelvetTimeoutError",
    "Project",
    "Record",
    "WEBHOOK_TOLERANCE_SECONDS",
    "Workspace",
    "__version__",
    "verify_webhook_signature",
]
