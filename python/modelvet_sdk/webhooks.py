"""Checking the signature of a modelvet webhook request (docs/API.md, "Outbound webhooks")."""

import hashlib
import hmac
import re
import time
from typing import Optional, Union

#: A signature whose timestamp is further than this from the receiver's clock is refused (replay).
WEBHOOK_TOLERANCE_SECONDS = 300


def verify_webhook_signature(secret: str, raw_body: Union[bytes, str], header: str,
                             tolerance_seconds: int = WEBHOOK_TOLERANCE_SECONDS,
                             now: Optional[float] = None) -> bool:
    """True when ``header`` (``X-Modelvet-Signature: t=<unix>,v1=<hex>``) signs ``raw_body`` with ``secret``
    and ``t`` is within ``tolerance_seconds`` of now. Pass the body exactly as received (bytes), not re-encoded
    JSON. The comparison is constant-time."""
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    if not re.fullmatch(r"\d+", t) or not re.fullmatch(r"[0-9a-f]{64}", v1):
        return False
    if abs((time.time() if now is None else now) - int(t)) > tolerance_seconds:
        return False
    body = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
    expected = hmac.new(secret.encode("utf-8"), t.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)
