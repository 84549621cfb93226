"""The handler registry: one module in ``job_types/`` per job type the contracts declare.

Discovery is by name, so adding a type is one schema (``contracts/schemas/payloads/<type>.json``) plus one
module (``job_types/<type>.py``); a schema without a module, or a module without ``TIMEOUT_S`` and ``run``,
fails at start-up with :class:`RegistryError` rather than on the first job of that type.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from functions.core.errors import ObservatoryError

PACKAGE = "functions.processor.job_types"

RunFn = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]


class RegistryError(ObservatoryError):
    pass


class UnknownJobType(RegistryError, LookupError):
    pass


@dataclass(frozen=True)
class Handler:
    job_type: str
    timeout_s: float
    run: RunFn
    is_async: bool

    async def execute(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Run the handler; a synchronous one runs in a worker thread so the event loop keeps serving."""
        if self.is_async:
            result = await cast(Callable[[dict[str, Any]], Awaitable[dict[str, Any]]], self.run)(payload)
        else:
            sync = cast(Callable[[dict[str, Any]], dict[str, Any]], self.run)
            result = await asyncio.to_thread(sync, payload)
        return result


def module_name(job_type: str) -> str:
    return job_type.replace("-", "_")


def load_handler(job_type: str, package: str = PACKAGE) -> Handler:
    try:
        module = importlib.import_module(f"{package}.{module_name(job_type)}")
    except ModuleNotFoundError as exc:
        raise RegistryError(
            f"job type {job_type!r} has a payload schema but no handler module {package}.{module_name(job_type)}"
        ) from exc
    timeout = getattr(module, "TIMEOUT_S", None)
    run = getattr(module, "run", None)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise RegistryError(f"{module.__name__}.TIMEOUT_S must be a positive number of seconds")
    if not callable(run):
        raise RegistryError(f"{module.__name__} must define run(payload)")
    return Handler(job_type, float(timeout), run, inspect.iscoroutinefunction(run))


class HandlerRegistry:
    def __init__(self, handlers: Iterable[Handler], timeout_scale: float = 1.0) -> None:
        self._handlers = {h.job_type: h for h in handlers}
        self.timeout_scale = timeout_scale

    @classmethod
    def discover(cls, job_types: Iterable[str], timeout_scale: float = 1.0) -> HandlerRegistry:
        return cls((load_handler(t) for t in job_types), timeout_scale)

    def types(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def get(self, job_type: str) -> Handler:
        try:
            return self._handlers[job_type]
        except KeyError:
            raise UnknownJobType(f"no handler for job type {job_type!r}") from None

    def timeout_for(self, job_type: str) -> float:
        return self.get(job_type).timeout_s * self.timeout_scale
