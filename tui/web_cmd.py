"""``observatory web``: the web mirror — a static page that reads the read model from the browser.

The page (``tui/web/``) fetches the read model directly (its CORS allows loopback origins) and follows
``/stream`` with EventSource. Only job submission passes through this server: the gateway answers no CORS
preflight, so ``POST /gateway/jobs`` here forwards the body to the gateway's ``POST /jobs`` unchanged and
returns its answer (202 or the problem document) unchanged. Everything the page loads is local; no CDN.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tui.client import DEFAULT_GATEWAY, DEFAULT_READ_MODEL
from tui.dashboard_cmd import UsageError, http_url

__all__ = ["add_parser", "build_app"]

WEB_DIR = Path(__file__).resolve().parent / "web"
DEFAULT_PORT = 8081
FORWARD_TIMEOUT_S = 10.0
MAX_BODY_BYTES = 1_048_576
FORWARDED_HEADERS = ("content-type", "x-correlation-id", "authorization")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("web", help="the web mirror: the dashboard in a browser (static page)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface (default 127.0.0.1: this machine only)"
    )
    parser.add_argument(
        "--read-model", help=f"read model URL (env READ_MODEL_URL; default {DEFAULT_READ_MODEL})"
    )
    parser.add_argument("--gateway", help=f"gateway URL (env GATEWAY_URL; default {DEFAULT_GATEWAY})")
    parser.set_defaults(func=run)


def _headers(read_model: str) -> dict[str, str]:
    policy = (f"default-src 'self'; connect-src 'self' {read_model}; img-src 'self' data:; "
              "style-src 'self'; script-src 'self'; frame-ancestors 'none'")  # fmt: skip
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def build_app(read_model: str, gateway: str, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    headers = _headers(read_model)
    http = httpx.AsyncClient(transport=transport, timeout=FORWARD_TIMEOUT_S)

    async def index(request: Request) -> Response:
        return FileResponse(WEB_DIR / "index.html", headers=headers)

    async def config(request: Request) -> Response:
        return JSONResponse({"readModel": read_model, "gateway": gateway, "submitUrl": "/gateway/jobs"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "readModel": read_model, "gateway": gateway})

    async def submit(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _problem(413, "Content Too Large", f"the body is larger than {MAX_BODY_BYTES} bytes")
        forward = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        try:
            answer = await http.post(gateway + "/jobs", content=body, headers=forward)
        except httpx.TransportError as exc:
            detail = f"gateway unreachable at {gateway} — start it with `observatory up` ({exc.__class__.__name__})"
            return _problem(502, "Bad Gateway", detail)
        keep = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() in ("content-type", "x-correlation-id", "retry-after")
        }
        return Response(answer.content, answer.status_code, headers=keep)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await http.aclose()

    routes = [
        Route("/", index),
        Route("/index.html", index),
        Route("/config.json", config),
        Route("/health", health),
        Route("/gateway/jobs", submit, methods=["POST"]),
        Mount("/assets", StaticFiles(directory=WEB_DIR / "assets"), name="assets"),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _problem(status: int, title: str, detail: str) -> Response:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status,
        media_type="application/problem+json",
    )


def _port_free(host: str, port: int) -> str | None:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is in use; pick another with --port"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def run(args: argparse.Namespace) -> int:
    import uvicorn

    try:
        read_model = http_url(
            "--read-model", args.read_model or os.environ.get("READ_MODEL_URL") or DEFAULT_READ_MODEL
        )
        gateway = http_url("--gateway", args.gateway or os.environ.get("GATEWAY_URL") or DEFAULT_GATEWAY)
    except UsageError as exc:
        print(f"observatory web: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.port <= 65535:
        print(f"observatory web: --port {args.port} must be in 1..65535", file=sys.stderr)
        return 2
    busy = _port_free(args.host, args.port)
    if busy:
        print(f"observatory web: {busy}", file=sys.stderr)
        return 1
    print(f"web mirror on http://{args.host}:{args.port}/ (read model {read_model}, gateway {gateway}); "
          "Ctrl-C stops it", flush=True)  # fmt: skip
    uvicorn.run(build_app(read_model, gateway), host=args.host, port=args.port, log_level="warning")
    return 0
