"""The modelvet client under the module name ``rime_sdk``, so file-scan snippets written for that SDK run unchanged.

    from rime_sdk import Client
    client = Client(domain="localhost:8080", api_key="mv_…")
    job = client.start_file_scan(model_id=…, project_id=…)
    job.get_status(verbose=True, wait_until_finish=True)
    client.get_file_scan_result(file_scan_id=job.job_id)

Every name here is modelvet_sdk's own object (not a copy), so ``rime_sdk.Client is modelvet_sdk.Client``; the
names are modelvet_sdk's ``__all__``, so a name added there is here too.
"""

import modelvet_sdk as _modelvet_sdk
from modelvet_sdk import *  # noqa: F401,F403 (exactly modelvet_sdk.__all__)

# Written as `+=` of the other module's __all__, a form type checkers follow for the names exported.
__all__: list[str] = []
__all__ += _modelvet_sdk.__all__
