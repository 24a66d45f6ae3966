"""Exceptions raised by the modelvet SDK."""

from typing import Optional


class ModelvetError(Exception):
    """A call failed. ``status`` is the HTTP status (None when the server could not be reached), ``code`` the
    server's error code (e.g. ``"NotFound"``) and ``message`` the server's sentence. Messages never carry the
    API key."""

    def __init__(self, message: str, status: Optional[int] = None, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"{self.status} {self.code or 'Error'}: {self.message}"


class ModelvetTimeoutError(ModelvetError):
    """A request, or a wait for a file scan to finish, ran out of time."""
