"""Outbound webhooks with the Python SDK: a receiver on loopback, a webhook pointing at it, a scan that finds an
Alert, and the receiver checking the signature of what arrives; then the delivery log and clean-up.

Needs MODELVET_URL, MODELVET_API_KEY, a server started with MODELVET_WEBHOOKS_ALLOW_PRIVATE=1 (the receiver is on
loopback) and a Hub repo MODEL_URI with a pickle calling os.system. Prints one JSON line with what it saw.
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from modelvet_sdk import Client, ModelvetError, verify_webhook_signature

SECRET = "py-webhook-secret-0123456789"
received = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the http.server spelling)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify_webhook_signature(SECRET, body, self.headers.get("X-Modelvet-Signature", ""))
        received.append({"verified": ok, "event": json.loads(body)})
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):  # keep stdout for the result line
        pass


server = HTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/modelvet"

client = Client(os.environ["MODELVET_URL"], os.environ["MODELVET_API_KEY"])
workspace = client.create_workspace("webhooks")
hook = client.create_webhook(workspace.workspace_id, url, SECRET, description="security channel")
seen = {"secret_returned": SECRET in json.dumps(hook.raw),
        "listed": [h.webhook_id for h in client.list_webhooks(workspace.workspace_id)] == [hook.webhook_id]}
try:
    client.create_webhook(workspace.workspace_id, "ftp://example.com/", SECRET)
except ModelvetError as e:
    seen["ftp_status"] = e.status

project = client.create_project("p", workspace_id=workspace.workspace_id)
model_id = project.register_model("m", {"hugging_face": {"model_uri": os.environ["MODEL_URI"]}})
client.start_file_scan(model_id, project.project_id).get_status(wait_until_finish=True, poll_rate_sec=0.2,
                                                                 timeout_sec=60)
deliveries = []
for _ in range(100):
    deliveries = client.list_webhook_deliveries(workspace.workspace_id, hook.webhook_id)
    if deliveries and deliveries[0].state == "delivered":
        break
    time.sleep(0.1)
seen["delivery"] = {"event": deliveries[0].event, "state": deliveries[0].state, "attempts": deliveries[0].attempts,
                    "statuses": [a.status_code for a in deliveries[0].attempt_log]}
seen["received"] = [{"verified": r["verified"], "event": r["event"]["event"],
                     "model": r["event"]["model"]["id"] == model_id, "severity": r["event"]["new_severity"]}
                    for r in received]
client.delete_webhook(workspace.workspace_id, hook.webhook_id)
seen["after_delete"] = len(client.list_webhooks(workspace.workspace_id))
server.shutdown()
print(json.dumps(seen))
