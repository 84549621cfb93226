"""``python -m knlocal``: run the local runtime in the foreground until SIGINT or SIGTERM.

Writes ``<state>/run/knlocal.json`` (pid, admin and ingress URLs) once every port is bound, removes it on
exit. Exit codes: 0 clean stop, 1 runtime error, 2 bad settings or manifests, 3 already running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from knlocal.config import ConfigError, RuntimeConfig
from knlocal.runtime import Runtime, RuntimeStartError
from knlocal.state import RuntimeState, StateFileError, read_state, remove_state, write_state

RET_OK, RET_ERROR, RET_CONFIG, RET_RUNNING = 0, 1, 2, 3


async def _serve(runtime: Runtime) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    try:
        await runtime.start()
    except RuntimeStartError as exc:
        print(f"knlocal: {exc}", file=sys.stderr)
        return RET_CONFIG
    state_dir = runtime.config.state_dir
    assert runtime.admin is not None and runtime.broker is not None
    write_state(
        state_dir,
        RuntimeState(
            pid=os.getpid(),
            admin_url=runtime.admin.url,
            ingress_url=runtime.broker.ingress_url,
            started_at=runtime.started_at,
            services={name: r.url for name, r in runtime.routers.items()},
            log_dir=str(runtime.logs_dir),
        ),
    )
    print(f"knlocal: running; admin {runtime.admin.url}, ingress {runtime.broker.ingress_url}", flush=True)
    for name, router in runtime.routers.items():
        print(f"knlocal:   {name:<12} {router.url}", flush=True)
    try:
        await runtime.run_until_stopped()
    finally:
        print("knlocal: stopping (ingress, dispatchers, routers, instances)", flush=True)
        await runtime.stop()
        remove_state(state_dir, os.getpid())
    print("knlocal: stopped", flush=True)
    return RET_OK


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="knlocal: %(levelname)s %(name)s: %(message)s")
    # Connection chatter and one line per readiness probe would drown the runtime's own messages.
    for noisy in ("pika", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = RuntimeConfig.from_env(os.environ)
    except ConfigError as exc:
        print(f"knlocal: {exc}", file=sys.stderr)
        return RET_CONFIG
    try:
        running = read_state(config.state_dir)
    except StateFileError as exc:
        print(f"knlocal: {exc}; remove it if no runtime is running", file=sys.stderr)
        return RET_CONFIG
    if running is not None:
        print(
            f"knlocal: already running (pid {running.pid}, admin {running.admin_url}); stop it first",
            file=sys.stderr,
        )
        return RET_RUNNING
    runtime = Runtime(config, environ=os.environ, port_overrides=config.port_overrides)
    try:
        return asyncio.run(_serve(runtime))
    except Exception as exc:  # the last line of defence: one readable line, not a traceback
        logging.getLogger("knlocal").exception("runtime failed")
        print(f"knlocal: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return RET_ERROR


if __name__ == "__main__":
    sys.exit(main())
