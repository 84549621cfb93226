"""The processor's own settings on top of the shared ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.core.errors import SettingsError
from functions.core.settings import Settings

# A claim's lease outlives the job's timeout by this much, so a live run is never claimed twice.
LEASE_MARGIN_S = 5.0


def _scale(env: Mapping[str, str]) -> float:
    raw = env.get("PROCESSOR_TIMEOUT_SCALE", "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError("PROCESSOR_TIMEOUT_SCALE", f"{raw!r} is not a number") from exc
    if not 0.001 <= value <= 100:
        raise SettingsError("PROCESSOR_TIMEOUT_SCALE", f"{value} is outside 0.001..100")
    return value


@dataclass(frozen=True)
class ProcessorSettings:
    """``timeout_scale`` multiplies every job type's TIMEOUT_S (tests shorten timeouts with it)."""

    base: Settings
    timeout_scale: float = 1.0
    lease_margin_s: float = LEASE_MARGIN_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProcessorSettings:
        return cls(base=Settings.from_env(env), timeout_scale=_scale(env))
