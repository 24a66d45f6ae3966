"""Scan a private Hugging Face model with a modelvet server, as in the seed document.

Environment: MODELVET_DOMAIN (e.g. http://localhost:8080), MODELVET_API_KEY (an admin key),
HF_MODEL_URI (org/repo) and HUGGINGFACE_API_TOKEN (a token that can read it). Prints the result as JSON.
"""

import json
import os

from modelvet_sdk import Client

client = Client(os.environ["MODELVET_DOMAIN"], os.environ["MODELVET_API_KEY"])

workspace = client.create_workspace("ML security")
integration_id = client.create_integration(
    workspace_id=workspace.workspace_id,
    name="Hugging Face",
    integration_type="CUSTOM",
    integration_schema=[
        {"name": "HUGGINGFACE_API_TOKEN", "sensitivity": "SECRET", "value": os.environ["HUGGINGFACE_API_TOKEN"]},
    ],
)
project = client.create_project(
    name="Model Registry",
    description="Models vetted before anyone loads them",
    workspace_id=workspace.workspace_id,
)
model_id = project.register_model(
    name="private model",
    model_config={"hugging_face": {"model_uri": os.environ["HF_MODEL_URI"], "revision": "main"}},
    integration_id=integration_id,
)

job = client.start_file_scan(model_id=model_id, project_id=project.project_id)
job.get_status(verbose=True, wait_until_finish=True)

result = client.get_file_scan_result(file_scan_id=job.job_id)
print(json.dumps(result, indent=2))
