"""verify_webhook_signature: what a receiver of modelvet webhooks runs on every request."""

import hashlib
import hmac
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modelvet_sdk import verify_webhook_signature  # noqa: E402

SECRET = "receiver-secret-0123456789"
BODY = b'{"event":"alert","new_severity":3}'
NOW = 1_800_000_000


def sign(t: int, body: bytes = BODY, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class VerifyTest(unittest.TestCase):
    def test_a_fresh_signature_of_the_body_verifies(self) -> None:
        self.assertTrue(verify_webhook_signature(SECRET, BODY, sign(NOW), now=NOW))
        self.assertTrue(verify_webhook_signature(SECRET, BODY.decode(), sign(NOW - 299), now=NOW))

    def test_another_body_or_secret_fails(self) -> None:
        self.assertFalse(verify_webhook_signature(SECRET, BODY + b" ", sign(NOW), now=NOW))
        self.assertFalse(verify_webhook_signature("another-secret-0123456789", BODY, sign(NOW), now=NOW))

    def test_an_old_or_future_timestamp_is_a_replay(self) -> None:
        self.assertFalse(verify_webhook_signature(SECRET, BODY, sign(NOW - 301), now=NOW))
        self.assertFalse(verify_webhook_signature(SECRET, BODY, sign(NOW + 301), now=NOW))
        self.assertTrue(verify_webhook_signature(SECRET, BODY, sign(NOW - 301), tolerance_seconds=600, now=NOW))

    def test_malformed_headers_fail(self) -> None:
        for header in ["", "v1=00", f"t={NOW}", f"t=x,v1={'0' * 64}", f"t={NOW},v1=zz", "garbage"]:
            self.assertFalse(verify_webhook_signature(SECRET, BODY, header, now=NOW), header)


if __name__ == "__main__":
    unittest.main()
