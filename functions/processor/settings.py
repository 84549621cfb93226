"""The processor's own settings on top of the shared ones."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from functions.core.errors import SettingsError
from functions.core.settings import Settings

# A claim holds the job for this long and the running instance renews it every third of it (see
# decisions.renew_interval). Short, so that when an instance dies mid-job the broker's redelivery can
# claim the job again within seconds; the processor trigger's retry budget (knative/triggers/processor.yaml)
# is sized to outlast it. Long enough that two missed renewals (a slow database) do not lose the lease.
LEASE_S = 6.0
LEASE_RANGE_S = (0.5, 300.0)


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(name, f"{raw!r} is not a number") from exc
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(name, f"{value} is outside {low:g}..{high:g}")
    return value


@dataclass(frozen=True)
class ProcessorSettings:
    """``timeout_scale`` multiplies every job type's TIMEOUT_S (tests shorten timeouts with it);
    ``lease_s`` is the claim's lease (PROCESSOR_LEASE_SECONDS; tests shorten it)."""

    base: Settings
    timeout_scale: float = 1.0
    lease_s: float = LEASE_S

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProcessorSettings:
        return cls(
            base=Settings.from_env(env),
            timeout_scale=_number(env, "PROCESSOR_TIMEOUT_SCALE", 1.0, 0.001, 100),
            lease_s=_number(env, "PROCESSOR_LEASE_SECONDS", LEASE_S, *LEASE_RANGE_S),
        )
