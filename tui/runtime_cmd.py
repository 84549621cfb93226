"""``observatory up|down|status|submit|logs``: run the local runtime and talk to it.

The runtime always runs as its own process (``python -m knlocal``, output in ``.observatory/logs/knlocal.log``);
``up`` in the foreground shows a live table from its admin port and stops it on Ctrl-C, ``up --detach``
leaves it running and returns once it is ready. ``down`` and ``status`` find it through
``.observatory/run/knlocal.json``. Every failure is one line saying what to do next, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from knlocal.config import RuntimeConfig
from knlocal.state import RuntimeState, read_state
from tui.command import CommandError, guard

__all__ = ["add_parser"]

ROOT = Path(__file__).resolve().parent.parent
SERVICES_SH = ROOT / "scripts" / "services.sh"
READY_WAIT_S = 180.0
STOP_WAIT_S = 90.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser("up", help="start the backing services, migrate, run the local runtime")
    up.add_argument("--detach", action="store_true", help="leave the runtime running in the background")
    up.add_argument(
        "--no-services", action="store_true", help="skip scripts/services.sh up (services already run)"
    )
    up.set_defaults(func=guard(_up, "up"))
    down = subparsers.add_parser("down", help="stop a runtime started with `up --detach`")
    down.set_defaults(func=guard(_down, "down"))
    status = subparsers.add_parser(
        "status", help="backing services, function instances, queues, dead letters"
    )
    status.add_argument("--json", action="store_true", help="print one JSON document")
    status.set_defaults(func=guard(_status, "status"))
    logs = subparsers.add_parser("logs", help="show the function instances' logs (.observatory/logs)")
    logs.add_argument(
        "function", nargs="?", help="one function (gateway, processor, ...) or knlocal; default all"
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.add_argument(
        "-n", "--lines", type=int, default=40, help="lines from the end of each file (default 40)"
    )
    logs.set_defaults(func=guard(_logs, "logs"))


def _config() -> RuntimeConfig:
    return RuntimeConfig.from_env(os.environ)


def _admin(state: RuntimeState, path: str = "/") -> dict[str, Any]:
    try:
        doc: dict[str, Any] = httpx.get(state.admin_url + path, timeout=5).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise CommandError(
            f"the runtime (pid {state.pid}) does not answer on {state.admin_url}: {exc}"
        ) from exc
    return doc


# -- up ------------------------------------------------------------------------------------------


def _up(args: argparse.Namespace) -> int:
    config = _config()
    running = read_state(config.state_dir)
    if running is not None:
        raise CommandError(
            f"already running (pid {running.pid}); see `observatory status` or run `observatory down`"
        )
    if not args.no_services:
        print("starting backing services (scripts/services.sh up)", flush=True)
        if subprocess.run([str(SERVICES_SH), "up"], check=False).returncode != 0:
            raise CommandError("the backing services did not start; see the lines above, then retry")
    _migrate()
    log_path = config.state_dir / "logs" / "knlocal.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "knlocal"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=args.detach,
        )
    state = _wait_ready(config, child, log_path)
    _print_urls(state, log_path)
    if args.detach:
        print(f"running in the background (pid {child.pid}); stop it with `observatory down`")
        return 0
    return _foreground(state, child)


def _migrate() -> None:
    from functions.core.errors import ObservatoryError
    from functions.core.migrations import migrate
    from functions.core.settings import Settings

    try:
        url = Settings.from_env(os.environ).database_url
        applied = migrate(url, progress=lambda line: print(f"  {line}", flush=True))
    except ObservatoryError as exc:
        raise CommandError(
            f"migrations failed: {exc}; check DATABASE_URL and `scripts/services.sh status`"
        ) from exc
    print(f"database: {len(applied)} migration(s) applied" if applied else "database: up to date", flush=True)


def _wait_ready(config: RuntimeConfig, child: subprocess.Popen[bytes], log_path: Path) -> RuntimeState:
    deadline = time.monotonic() + READY_WAIT_S
    console = Console(stderr=True)
    with console.status("starting the local runtime (routers, broker, min-scale instances)..."):
        while time.monotonic() < deadline:
            if child.poll() is not None:
                tail = _tail(log_path, 5)
                raise CommandError(
                    f"the runtime exited with code {child.returncode}: {tail} (full log: {log_path})"
                )
            state = read_state(config.state_dir)
            if state is not None and state.pid == child.pid:
                with contextlib.suppress(httpx.HTTPError):
                    ready = httpx.get(state.admin_url + "/readyz", timeout=2).status_code == 200
                    ingress = httpx.get(state.ingress_url, timeout=2).status_code < 500
                    if ready and ingress:
                        return state
            time.sleep(0.25)
    child.terminate()
    raise CommandError(f"the runtime was not ready within {READY_WAIT_S:g}s; see {log_path}")


def _tail(path: Path, lines: int) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    return "(no log)"


def _print_urls(state: RuntimeState, log_path: Path) -> None:
    print("local runtime ready:")
    for name, url in sorted(state.services.items()):
        print(f"  {name:<12} {url}")
    print(f"  {'broker':<12} {state.ingress_url}  (K_SINK)")
    print(f"  {'admin':<12} {state.admin_url}")
    print(f"  {'logs':<12} {state.log_dir}  (runtime: {log_path})", flush=True)


def _foreground(state: RuntimeState, child: subprocess.Popen[bytes]) -> int:
    try:
        with Live(_table(None), refresh_per_second=2, transient=False) as live:
            while child.poll() is None:
                doc = None
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    doc = httpx.get(state.admin_url, timeout=2).json()
                live.update(_table(doc))
                time.sleep(1.0)
    except KeyboardInterrupt:
        print("stopping the local runtime (Ctrl-C again does not hurry it)...", flush=True)
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        with contextlib.suppress(KeyboardInterrupt):
            while child.poll() is None:
                time.sleep(0.2)
    print(f"local runtime stopped (exit code {child.returncode})")
    return 0 if child.returncode in (0, -signal.SIGTERM, -signal.SIGINT) else 1


def _table(doc: dict[str, Any] | None) -> Table:
    table = Table(title="observatory (Ctrl-C stops everything)", expand=False)
    for column in ("function", "desired", "actual", "ready", "panic", "in flight", "queued", "url"):
        table.add_column(column, justify="right" if column not in ("function", "url") else "left")
    if doc is None:
        table.caption = "waiting for the runtime's admin port..."
        return table
    for s in doc.get("services", []):
        table.add_row(
            s["name"], str(s.get("desired")), str(s.get("actual")), str(s.get("ready")),
            "yes" if s.get("panic") else "", str(s.get("in_flight")), str(s.get("queued")), s.get("url", ""),
        )  # fmt: skip
    depths = [
        f"{t['name'].split('/')[-1]}={t['queue_depth']}"
        for t in doc.get("triggers", [])
        if t.get("queue_depth")
    ]
    dead = doc.get("dead_letters", {})
    table.caption = f"queues: {', '.join(depths) or 'empty'} · dead letters: {dead.get('dead_lettered', 0)}"
    return table


# -- down ----------------------------------------------------------------------------------------


def _down(args: argparse.Namespace) -> int:
    config = _config()
    state = read_state(config.state_dir)
    if state is None:
        print("the local runtime is not running; nothing to stop")
        return 0
    instances: list[dict[str, Any]] = []
    leaders: list[int] = []  # process-group leaders: instances, Prometheus, Alertmanager
    with contextlib.suppress(CommandError):
        doc = _admin(state)
        instances = [i for s in doc.get("services", []) for i in s.get("instances", [])]
        children = [c for c in (doc.get("observability") or {}).values() if isinstance(c, dict)]
        leaders = [int(i["pid"]) for i in instances] + [int(c["pid"]) for c in children if c.get("pid")]
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    with Console(stderr=True).status(f"stopping the local runtime (pid {state.pid})..."):
        while read_state(config.state_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    if read_state(config.state_dir) is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(state.pid, signal.SIGKILL)
        for pid in leaders:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        raise CommandError(
            f"the runtime did not stop within {STOP_WAIT_S:g}s; it and its instances were killed"
        )
    names = sorted({i["name"] for i in instances})
    print(
        f"stopped the local runtime (pid {state.pid}) and {len(names)} instance(s){': ' if names else ''}{', '.join(names)}"
    )
    return 0


# -- status --------------------------------------------------------------------------------------


def _backing_services() -> dict[str, Any] | None:
    try:
        out = subprocess.run(
            [str(SERVICES_SH), "status", "--json"], capture_output=True, text=True, check=False, timeout=60
        )
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _status(args: argparse.Namespace) -> int:
    config = _config()
    services = _backing_services()
    state = read_state(config.state_dir)
    runtime = _admin(state) if state is not None else None
    services_up = services is not None and all(v.get("status") == "up" for v in services.values())
    if args.json:
        print(json.dumps({"services": services, "runtime": runtime}, indent=2))
        return 0 if services_up and runtime is not None else 1
    console = Console()
    if services is None:
        console.print("backing services: unknown (scripts/services.sh status failed)")
    else:
        line = ", ".join(f"{name} {v.get('status')}" for name, v in services.items())
        console.print(f"backing services: {line}")
    if runtime is None:
        console.print(
            "local runtime: not running (start it with `observatory up` or `observatory up --detach`)"
        )
        return 1
    console.print(_table(runtime))
    for name, child in (runtime.get("observability") or {}).items():
        if isinstance(child, dict):
            where = child.get("url") or child.get("note") or child.get("state")
            console.print(
                f"{name}: {child.get('state')} {where if where != child.get('state') else ''}".rstrip()
            )
    for warning in runtime.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    return 0 if services_up else 1


# -- logs ----------------------------------------------------------------------------------------


def _logs(args: argparse.Namespace) -> int:
    logs_dir = _config().state_dir / "logs"
    files = sorted(logs_dir.glob("*.log")) if logs_dir.is_dir() else []
    if not files:
        raise CommandError(f"no logs in {logs_dir}; start the runtime with `observatory up`")

    def chosen() -> list[Path]:
        found = sorted(logs_dir.glob("*.log"))
        if args.function is None:
            return found
        return [p for p in found if p.stem == args.function or p.stem.rsplit("-", 1)[0] == args.function]

    if not chosen():
        known = sorted({p.stem.rsplit("-", 1)[0] if p.stem[-1].isdigit() else p.stem for p in files})
        raise CommandError(f"no logs for {args.function!r} in {logs_dir} (known: {', '.join(known)})")
    offsets: dict[Path, int] = {}
    for path in chosen():
        lines = path.read_text(errors="replace").splitlines()[-max(args.lines, 0) :] if args.lines else []
        for line in lines:
            print(f"{path.stem:<14} {line}")
        offsets[path] = path.stat().st_size
    if not args.follow:
        return 0
    try:
        while True:
            for path in chosen():
                size = path.stat().st_size
                start = offsets.get(path, 0)
                if size < start:
                    start = 0  # truncated or replaced
                if size > start:
                    with path.open("rb") as f:
                        f.seek(start)
                        chunk = f.read(size - start).decode(errors="replace")
                    for line in chunk.splitlines():
                        print(f"{path.stem:<14} {line}", flush=True)
                offsets[path] = size
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
