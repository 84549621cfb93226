"""Read a request body without ever holding more than the limit (Content-Length is checked first)."""

from __future__ import annotations

from starlette.requests import Request

from functions.core.errors import PayloadTooLarge
from functions.gateway.intake import declared_length


async def read_body(request: Request, limit: int) -> bytes:
    declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    # A chunked body, or one longer than it declared, is cut off as soon as it passes the limit.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
