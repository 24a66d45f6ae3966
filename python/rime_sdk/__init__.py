"""The modelvet client under the module name ``rime_sdk``, so file-scan snippets written for that SDK run unchanged.

    from rime_sdk import Client
    client = Client(domain="localhost:8080", api_key="mv_…")
    job = client.start_file_scan(model_id=…, project_id=…)
    job.get_status(verbose=True, wait_until_finish=True)
    client.get_file_scan_result(file_scan_id=job.job_id)

Every name here is modelvet_sdk's own object (not a copy), so ``rime_sdk.Client is modelvet_sdk.Client``.
"""

from modelvet_sdk import (
    Client,
    FileScan,
    FileScanJob,
    FileScanResult,
    Model,
    ModelvetError,
    ModelvetTimeoutError,
    Project,
    Record,
    WEBHOOK_TOLERANCE_SECONDS,
    Workspace,
    __version__,
    verify_webhook_signature,
)

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
