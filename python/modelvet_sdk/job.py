"""A file scan job: poll its status, optionally until it finishes."""

import time
from typing import TYPE_CHECKING, Any, Dict, Optional

from .errors import ModelvetError, ModelvetTimeoutError
from .records import FileScan

if TYPE_CHECKING:
    from .client import Client

FINISHED = ("succeeded", "failed")
# Answers worth waiting through while polling: the server restarting (its jobs survive) or a proxy hiccup.
_TRANSIENT = (None, 502, 503, 504)
_MAX_TRANSIENT_IN_A_ROW = 5


class FileScanJob:
    """The job of one file scan. ``job_id`` and ``file_scan_id`` are the same id, so
    ``client.get_file_scan_result(job.job_id)`` reads its result. ``started`` is the FileScan as first queued."""

    def __init__(self, client: "Client", scan: Dict[str, Any]) -> None:
        self._client = client
        self.started = FileScan(scan)
        self.job_id: str = scan["job_id"]
        self.file_scan_id: str = scan.get("file_scan_id", self.job_id)

    def __repr__(self) -> str:
        return f"FileScanJob(job_id={self.job_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileScanJob) and other.job_id == self.job_id

    def __hash__(self) -> int:
        return hash(self.job_id)

    def get_status(self, verbose: bool = False, wait_until_finish: bool = False, poll_rate_sec: float = 2.0,
                   timeout_sec: Optional[float] = 3600.0) -> FileScan:
        """The scan's status (a FileScan: ``status``, ``progress``, ``error``, ``severity``, …).

        verbose: print one line each time the status or progress changes (state, files done of total, bytes
            read; the verdict at the end) and return the full report under ``result`` once the scan has succeeded.
        wait_until_finish: poll every ``poll_rate_sec`` seconds until the status is ``succeeded`` or ``failed``,
            for at most ``timeout_sec`` seconds (None waits without limit), then raise ModelvetTimeoutError.
            A failed scan is returned, not raised: its ``error`` says why.
        """
        if poll_rate_sec <= 0:
            raise ValueError("poll_rate_sec must be positive")
        deadline = None if timeout_sec is None else time.monotonic() + timeout_sec
        transient = 0
        shown: Optional[str] = None
        while True:
            try:
                status = self._client._get_file_scan(self.job_id, verbose)
                transient = 0
            except ModelvetError as e:
                # status None = unreachable or timed out; a 4xx is an answer, never retried.
                if not wait_until_finish or e.status not in _TRANSIENT or transient >= _MAX_TRANSIENT_IN_A_ROW:
                    raise
                status, transient = None, transient + 1
            if verbose and status is not None:
                shown = self._show(status, shown)
            if status is not None and (not wait_until_finish or status.get("status") in FINISHED):
                return status
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                last = status.get("status") if status is not None else "unknown"
                raise ModelvetTimeoutError(
                    f"file scan {self.job_id} did not finish within {timeout_sec:g} s (last status: {last}); "
                    "call get_status(wait_until_finish=True) again to keep waiting"
                )
            # The last sleep is cut short so the final poll lands on the deadline, not after it.
            time.sleep(poll_rate_sec if remaining is None else min(poll_rate_sec, remaining))

    def _show(self, status: FileScan, shown: Optional[str]) -> str:
        """Prints the status line unless it is the one printed last; returns the line now shown."""
        line = status_line(status)
        if line != shown:
            print(f"file scan {self.job_id}: {line}", flush=True)
        return line


def _size(n: float) -> str:
    """Bytes in decimal units, as the server counts them: ``512 B``, ``12.5 MB``."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def status_line(status: Dict[str, Any]) -> str:
    """``queued`` / ``running: 1 of 3 files, 12.5 MB read`` / ``succeeded: Alert, 3 of 3 files, 40.1 MB read`` /
    ``failed: <the server's reason>``."""
    state = str(status.get("status", "unknown"))
    if state == "failed":
        return f"failed: {status.get('error') or 'no reason given'}"
    parts = []
    if state == "succeeded" and status.get("severity_label"):
        parts.append(str(status["severity_label"]))
    progress = status.get("progress")
    if state != "queued" and isinstance(progress, dict):
        done, total, read = progress.get("files_done"), progress.get("files_total"), progress.get("bytes_read")
        if isinstance(total, int) and total > 0:
            parts.append(f"{done if isinstance(done, int) else 0} of {total} files")
        if isinstance(read, (int, float)) and not isinstance(read, bool) and read >= 0:
            parts.append(f"{_size(read)} read")
    return f"{state}: {', '.join(parts)}" if parts else state
