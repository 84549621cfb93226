"""``observatory dashboard``: the Textual client against a read model and a gateway.

URLs come from the flags, else ``READ_MODEL_URL`` / ``GATEWAY_URL``, else the local ports; the replay token
from ``OBSERVATORY_API_TOKEN`` (or the file named by ``OBSERVATORY_API_TOKEN_FILE``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from tui.client import DEFAULT_GATEWAY, DEFAULT_READ_MODEL, Endpoints

__all__ = ["add_parser", "endpoints_from"]


class UsageError(Exception):
    pass


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dashboard", help="the terminal dashboard: live jobs, timelines, new jobs, dead-letter replay"
    )
    parser.add_argument(
        "--read-model", help=f"read model URL (env READ_MODEL_URL; default {DEFAULT_READ_MODEL})"
    )
    parser.add_argument("--gateway", help=f"gateway URL (env GATEWAY_URL; default {DEFAULT_GATEWAY})")
    parser.set_defaults(func=run)


def http_url(flag: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{flag} {value!r} is not an http(s) URL such as http://127.0.0.1:8080")
    return value.rstrip("/")


def _token(env: Mapping[str, str]) -> str | None:
    if env.get("OBSERVATORY_API_TOKEN"):
        return env["OBSERVATORY_API_TOKEN"].strip()
    path = env.get("OBSERVATORY_API_TOKEN_FILE")
    if path:
        try:
            return Path(path).read_text().strip() or None
        except OSError as exc:
            raise UsageError(f"OBSERVATORY_API_TOKEN_FILE {path!r} cannot be read: {exc.strerror}") from exc
    return None


def endpoints_from(args: argparse.Namespace, env: Mapping[str, str]) -> Endpoints:
    read_model = args.read_model or env.get("READ_MODEL_URL") or DEFAULT_READ_MODEL
    gateway = args.gateway or env.get("GATEWAY_URL") or DEFAULT_GATEWAY
    return Endpoints(http_url("--read-model", read_model), http_url("--gateway", gateway), _token(env))


def run(args: argparse.Namespace) -> int:
    try:
        endpoints = endpoints_from(args, os.environ)
    except UsageError as exc:
        print(f"observatory dashboard: {exc}", file=sys.stderr)
        return 2
    if not sys.stdout.isatty():
        print("observatory dashboard: needs a terminal (stdout is not a TTY)", file=sys.stderr)
        return 2
    from tui.app import ObservatoryApp  # Textual loads only when the dashboard really starts

    ObservatoryApp(endpoints).run()
    return 0
