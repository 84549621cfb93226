"""Delivery policy of the RabbitMQ broker's dispatcher: retry timing, outcome, dead-letter target.

Pure functions, no I/O; the dispatcher asks ``RetryPolicy.after_attempt`` what to do after each POST.
The numbers and rules are the RabbitMQ broker's (eventing-rabbitmq's dispatcher on sdk-go), which differ
from the core MT broker in several places:

=================================  ===============================  ==================================
                                   RabbitMQ broker (this module)    MT broker
=================================  ===============================  ==================================
wait before retry k (1-based)      linear d*k, exponential d*2^k    linear d*(k-1), exponential d*2^(k-1)
delivery without ``retry``         5 retries                        0 retries
no delivery at all                 0 retries                        0 retries
no backoffPolicy / backoffDelay    exponential / 50 ms              no wait
400, 401, 403, 3xx, other 4xx      delivered (acked)                failure, straight to the DLS
=================================  ===============================  ==================================

A stock cluster's ``config-br-defaults`` gives a Broker without ``spec.delivery`` retry 10, exponential,
PT0.2S; the local runtime has no such defaulting webhook, so manifests should spell delivery out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Literal

from knlocal.manifests import Broker, DeliverySpec, Destination, Trigger

__all__ = [
    "DEFAULT_BACKOFF_DELAY_S",
    "DEFAULT_RETRY_WITH_SPEC",
    "Action",
    "DeadLetterRoute",
    "Outcome",
    "RetryPolicy",
    "Step",
    "classify",
    "dead_letter_target",
    "is_retryable",
]

DEFAULT_RETRY_WITH_SPEC = 5
DEFAULT_BACKOFF_DELAY_S = 0.05
DEFAULT_BACKOFF_POLICY = "exponential"
# Status codes worth another try besides 5xx (Knative's SelectiveRetry).
_RETRYABLE_4XX = frozenset({404, 408, 409, 429})


def is_retryable(status: int | None) -> bool:
    """Transport errors (``None``: no HTTP response), 5xx, 404, 408, 409 and 429."""
    return status is None or 500 <= status <= 599 or status in _RETRYABLE_4XX


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    RETRYABLE = "retryable"


def classify(status: int | None) -> Outcome:
    """The RabbitMQ dispatcher's verdict on one attempt: success is simply *not retryable*.

    So 2xx succeeds, and so do 400, 401, 403, 3xx and every other non-retryable status: the event is
    acked as delivered and never reaches a dead-letter sink. The MT broker instead treats those as
    failures and dead-letters them at once. ``None`` stands for a transport error or timeout.
    """
    return Outcome.RETRYABLE if is_retryable(status) else Outcome.SUCCESS


class Action(enum.StrEnum):
    ACK = "ack"  # delivered
    RETRY = "retry"  # wait ``Step.delay_s`` and try again
    DEAD_LETTER = "dead_letter"  # retries exhausted: hand the event to ``dead_letter_target`` (or drop it)


@dataclass(frozen=True)
class Step:
    action: Action
    delay_s: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one Trigger's dispatcher retries."""

    retry: int = 0
    backoff_policy: str = DEFAULT_BACKOFF_POLICY
    backoff_delay_s: float = DEFAULT_BACKOFF_DELAY_S
    timeout_s: float | None = None

    @classmethod
    def from_spec(
        cls, trigger_delivery: DeliverySpec | None, broker_delivery: DeliverySpec | None
    ) -> RetryPolicy:
        """The Trigger's delivery if it has one, else the Broker's: a whole-object fallback, no field merge."""
        spec = trigger_delivery if trigger_delivery is not None else broker_delivery
        if spec is None:
            return cls(retry=0)
        return cls(
            retry=DEFAULT_RETRY_WITH_SPEC if spec.retry is None else spec.retry,
            backoff_policy=spec.backoff_policy or DEFAULT_BACKOFF_POLICY,
            backoff_delay_s=DEFAULT_BACKOFF_DELAY_S if spec.backoff_delay_s is None else spec.backoff_delay_s,
            timeout_s=spec.timeout_s,
        )

    @property
    def attempts(self) -> int:
        return self.retry + 1

    def scaled(self, factor: float) -> RetryPolicy:
        """The same policy with every wait multiplied by ``factor`` (tests shrink backoff this way)."""
        return replace(self, backoff_delay_s=self.backoff_delay_s * factor)

    def backoff(self, k: int) -> float:
        """Seconds to wait before retry ``k`` (1-based): linear ``d*k``, exponential ``d*2**k``.

        So the first exponential retry already waits twice the delay: PT0.2S gives 0.4, 0.8, 1.6 s.
        """
        if k < 1:
            raise ValueError(f"retry number {k} must be >= 1")
        if self.backoff_policy == "linear":
            return self.backoff_delay_s * k
        return self.backoff_delay_s * float(2**k)

    def schedule(self) -> list[float]:
        """Every wait, in order, if all attempts fail."""
        return [self.backoff(k) for k in range(1, self.retry + 1)]

    def after_attempt(self, attempt: int, status: int | None) -> Step:
        """What to do after attempt number ``attempt`` (1-based) answered ``status`` (None: no response)."""
        if attempt < 1:
            raise ValueError(f"attempt number {attempt} must be >= 1")
        if classify(status) is Outcome.SUCCESS:
            return Step(Action.ACK)
        if attempt <= self.retry:
            return Step(Action.RETRY, self.backoff(attempt))
        return Step(Action.DEAD_LETTER)


@dataclass(frozen=True)
class DeadLetterRoute:
    """Where a failed event goes: through the Trigger's own DLX or the Broker's, to ``sink``."""

    scope: Literal["trigger", "broker"]
    sink: Destination


def dead_letter_target(trigger: Trigger, broker: Broker) -> DeadLetterRoute | None:
    """The dead-letter route of a Trigger, or ``None`` when the event is dropped.

    The Trigger's own DLS wins. The Broker's DLS applies only when the Trigger has no ``delivery`` at
    all: a Trigger whose delivery lacks a DLS drops failed events even if the Broker has one.
    """
    if trigger.delivery is not None:
        sink = trigger.delivery.dead_letter_sink
        return DeadLetterRoute("trigger", sink) if sink is not None else None
    if broker.delivery is not None and broker.delivery.dead_letter_sink is not None:
        return DeadLetterRoute("broker", broker.delivery.dead_letter_sink)
    return None
