"""The one exception a job handler raises on purpose."""

from __future__ import annotations

from functions.core.errors import ObservatoryError


class JobFailure(ObservatoryError):
    """A job could not produce a result.

    ``retryable`` decides what the broker sees: a retryable failure answers 503 so the broker delivers the
    event again (and dead-letters it after the last retry); a permanent one ends the job FAILED at once.
    ``code`` is a short machine-readable reason (``^[A-Za-z][A-Za-z0-9_.-]{0,63}$``, as in the contract).
    """

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable

    def as_error(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}
