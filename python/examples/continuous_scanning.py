"""Continuous scanning with the Python SDK: follow a model, set the workspace's poll interval and Hub webhook
secret, and lower a finding with workspace custom rules (the latest result is judged again at once).

Needs MODELVET_URL, MODELVET_API_KEY and a Hub repo MODEL_URI with a pickle calling os.system. Prints one JSON line
with what it saw, for tests to read.
"""

import json
import os

from modelvet_sdk import Client, ModelvetError

client = Client(os.environ["MODELVET_URL"], os.environ["MODELVET_API_KEY"])
workspace = client.create_workspace("continuous")
project = client.create_project("p", workspace_id=workspace.workspace_id)
model_id = project.register_model("m", {"hugging_face": {"model_uri": os.environ["MODEL_URI"]}})
seen = {"follow_default": client.get_model(model_id).model_config.hugging_face.follow}
seen["after_unfollow"] = client.unfollow_model(model_id).model_config.hugging_face.follow
seen["after_follow"] = client.follow_model(model_id).model_config.hugging_face.follow
settings = client.set_follow_settings(workspace.workspace_id, poll_interval_seconds=600, hook_secret="x" * 24)
seen["settings"] = {k: settings[k] for k in ("poll_interval_seconds", "hook_secret_set", "hook_path")}

job = client.start_file_scan(model_id, project.project_id)
seen["first"] = job.get_status(wait_until_finish=True, poll_rate_sec=0.2, timeout_sec=60).severity_label
lower = {"rules": [{"id": "ws.os-system", "match": "os.system", "severity": 2, "reason": "reviewed"}]}
change = client.set_workspace_rules(workspace.workspace_id, lower)
seen["change"] = {"version": change.version, "rejudged": change.rejudged, "changed": change.changed_models == [model_id]}
seen["after_rules"] = client.get_model(model_id).latest_file_scan.severity_label
try:
    client.set_workspace_rules(workspace.workspace_id, {"rules": [{"id": "x"}]})
except ModelvetError as e:
    seen["bad_rules_status"] = e.status
seen["cleared_version"] = client.clear_workspace_rules(workspace.workspace_id).version
seen["versions"] = [v.version for v in client.list_workspace_rule_versions(workspace.workspace_id)]
seen["after_clear"] = client.get_model(model_id).latest_file_scan.severity_label
print(json.dumps(seen))
