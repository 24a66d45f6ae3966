"""The one place that speaks HTTP: JSON in and out, the API key, time limits and error mapping."""

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

from .errors import ModelvetError, ModelvetTimeoutError

__version__ = "0.1.0"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def normalise_domain(domain: str) -> str:
    """``https://host``, ``http://localhost:8080/``, ``host:8080`` or ``…/api/v1`` → the server's base URL.
    Without a scheme, loopback hosts get http and every other host https."""
    if not isinstance(domain, str) or not domain.strip():
        raise ValueError("domain must be the server's address, e.g. 'http://localhost:8080'")
    base = domain.strip().rstrip("/")
    if "://" not in base:
        host = urllib.parse.urlsplit("//" + base).hostname or ""
        base = ("http://" if host in _LOCAL_HOSTS else "https://") + base
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"domain must be an http(s) address, got {domain!r}")
    if base.endswith("/api/v1"):
        base = base[: -len("/api/v1")]
    return base


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The API never redirects; following one would hand the bearer key to whatever host the Location names.
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


class Transport:
    def __init__(self, domain: str, api_key: str, timeout: float) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.base = normalise_domain(domain)
        self.timeout = timeout
        self._key = api_key
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return f"Transport({self.base!r})"

    def request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                query: Optional[Dict[str, str]] = None) -> Any:
        url = f"{self.base}/api/v1{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            "User-Agent": f"modelvet-sdk-python/{__version__}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        where = f"{method} {path}"
        try:
            with self._opener.open(req, timeout=self.timeout) as res:
                payload = res.read()
        except urllib.error.HTTPError as e:
            raise self._http_error(e, where) from None
        except (socket.timeout, TimeoutError):
            raise ModelvetTimeoutError(f"{where}: no answer from {self.base} within {self.timeout:g} s") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise ModelvetTimeoutError(f"{where}: no answer from {self.base} within {self.timeout:g} s") from None
            raise ModelvetError(self._scrub(f"{where}: could not reach {self.base} ({e.reason})")) from None
        except OSError as e:  # connection reset mid-answer and the like
            raise ModelvetError(self._scrub(f"{where}: connection to {self.base} failed ({e})")) from None
        if not payload:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            raise ModelvetError(f"{where}: the server answered something that is not JSON") from None

    def _http_error(self, e: urllib.error.HTTPError, where: str) -> ModelvetError:
        code, message = None, None
        try:
            body = json.loads(e.read() or b"null")
            if isinstance(body, dict):
                code = body.get("error") if isinstance(body.get("error"), str) else None
                message = body.get("message") if isinstance(body.get("message"), str) else None
        except (ValueError, OSError):
            pass
        if e.code in (301, 302, 303, 307, 308):
            message = "the server answered with a redirect, which the SDK does not follow; check the domain"
        if message is None:
            message = f"{where} failed with HTTP {e.code} {e.reason}"
        return ModelvetError(self._scrub(message), status=e.code, code=code)

    def _scrub(self, text: str) -> str:
        # Belt and braces: whatever a server or proxy echoes back, the key never reaches a message or a log.
        return text.replace(self._key, "[api key]")
