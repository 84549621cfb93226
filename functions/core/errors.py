"""The error tree of the functions, and its RFC 9457 problem+json form.

ObservatoryError
├── SettingsError          a setting is malformed (names the variable)
├── ProblemError           a request is refused; carries the HTTP status and field errors
│   ├── BadRequest (400)   malformed JSON or CloudEvent
│   ├── Unauthorized (401)
│   ├── NotFound (404)
│   ├── Conflict (409)
│   ├── PayloadTooLarge (413)
│   ├── UnsupportedMediaType (415)
│   ├── Unprocessable (422) schema violations, one FieldError each
│   └── Unavailable (503)  a dependency is down; carries Retry-After
└── StoreError             a store failed; translated from the driver's exception with ``raise … from``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://observatory.dev/problems/"


class ObservatoryError(Exception):
    """Base of every error this project raises on purpose."""


class SettingsError(ObservatoryError):
    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


class StoreError(ObservatoryError):
    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store}: {reason}")
        self.store = store


@dataclass(frozen=True)
class FieldError:
    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


class ProblemError(ObservatoryError):
    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Malformed request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Missing or wrong bearer token"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(ProblemError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"


class Unprocessable(ProblemError):
    status, slug, title = 422, "validation-failed", "The request does not match the contract"


class Unavailable(ProblemError):
    status, slug, title = 503, "unavailable", "A dependency is unavailable"

    def __init__(self, detail: str, retry_after: int = 2) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
