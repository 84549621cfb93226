"""knlocal.eventing.delivery: RabbitMQ-broker retry timing, outcome and dead-letter routing."""

from __future__ import annotations

import pytest

from knlocal.eventing.delivery import (
    Action,
    DeadLetterRoute,
    Outcome,
    RetryPolicy,
    Step,
    classify,
    dead_letter_target,
)
from knlocal.manifests import Broker, DeliverySpec, Destination, Ref, Trigger

DLS_T = Destination(Ref("serving.knative.dev/v1", "Service", "trigger-dls", "ns"))
DLS_B = Destination(Ref("serving.knative.dev/v1", "Service", "broker-dls", "ns"))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (202, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (301, Outcome.SUCCESS),  # RMQ: not retryable, so "delivered"
        (400, Outcome.SUCCESS),  # the MT broker would dead-letter these three at once
        (401, Outcome.SUCCESS),
        (403, Outcome.SUCCESS),
        (410, Outcome.SUCCESS),
        (404, Outcome.RETRYABLE),
        (408, Outcome.RETRYABLE),
        (409, Outcome.RETRYABLE),
        (429, Outcome.RETRYABLE),
        (500, Outcome.RETRYABLE),
        (502, Outcome.RETRYABLE),
        (503, Outcome.RETRYABLE),
        (599, Outcome.RETRYABLE),
        (None, Outcome.RETRYABLE),  # transport error / timeout
    ],
)
def test_classify(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


FULL = DeliverySpec(retry=3, backoff_policy="linear", backoff_delay_s=1.0, timeout_s=5.0)
EMPTY = DeliverySpec()


@pytest.mark.parametrize(
    ("trigger", "broker", "expected"),
    [
        (None, None, RetryPolicy(0, "exponential", 0.05, None)),  # no delivery anywhere: no retries
        (EMPTY, None, RetryPolicy(5, "exponential", 0.05, None)),  # a spec without retry: 5
        (None, EMPTY, RetryPolicy(5, "exponential", 0.05, None)),
        (FULL, None, RetryPolicy(3, "linear", 1.0, 5.0)),
        (None, FULL, RetryPolicy(3, "linear", 1.0, 5.0)),
        # whole-object fallback: the trigger's (empty) spec hides every broker field
        (EMPTY, FULL, RetryPolicy(5, "exponential", 0.05, None)),
        (DeliverySpec(retry=0), FULL, RetryPolicy(0, "exponential", 0.05, None)),
        (DeliverySpec(backoff_delay_s=0.2), None, RetryPolicy(5, "exponential", 0.2, None)),
    ],
)
def test_from_spec(trigger: DeliverySpec | None, broker: DeliverySpec | None, expected: RetryPolicy) -> None:
    assert RetryPolicy.from_spec(trigger, broker) == expected


@pytest.mark.parametrize(
    ("policy", "delay", "waits"),
    [
        ("exponential", 0.2, [0.4, 0.8, 1.6]),  # first retry already waits 2*d
        ("linear", 0.2, [0.2, 0.4, 0.6]),
        ("exponential", 0.05, [0.1, 0.2, 0.4]),
    ],
)
def test_backoff(policy: str, delay: float, waits: list[float]) -> None:
    assert RetryPolicy(3, policy, delay).schedule() == pytest.approx(waits)


def test_stock_defaults_schedule() -> None:
    # config-br-defaults (retry 10, exponential, PT0.2S): 0.4 ... 204.8 s, 409.2 s in all.
    waits = RetryPolicy(10, "exponential", 0.2).schedule()
    assert waits[0] == pytest.approx(0.4)
    assert waits[-1] == pytest.approx(204.8)
    assert sum(waits) == pytest.approx(409.2)


def test_backoff_rejects_zero() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(3).backoff(0)


def test_scaled() -> None:
    assert RetryPolicy(3, "linear", 1.0).scaled(0.01).schedule() == pytest.approx([0.01, 0.02, 0.03])


@pytest.mark.parametrize(
    ("attempt", "status", "step"),
    [
        (1, 200, Step(Action.ACK)),
        (1, 400, Step(Action.ACK)),
        (1, 503, Step(Action.RETRY, 0.4)),
        (2, None, Step(Action.RETRY, 0.8)),
        (3, 429, Step(Action.RETRY, 1.6)),
        (4, 500, Step(Action.DEAD_LETTER)),  # attempts = retry + 1 = 4
        (4, 201, Step(Action.ACK)),
    ],
)
def test_after_attempt(attempt: int, status: int | None, step: Step) -> None:
    policy = RetryPolicy(3, "exponential", 0.2)
    assert policy.attempts == 4
    assert policy.after_attempt(attempt, status) == pytest.approx(step)


def test_no_retry_dead_letters_at_once() -> None:
    assert RetryPolicy(0).after_attempt(1, 500) == Step(Action.DEAD_LETTER)


def _trigger(delivery: DeliverySpec | None) -> Trigger:
    return Trigger("t", "ns", "default", {}, False, Destination(uri="http://x"), delivery, 1, {})


def _broker(delivery: DeliverySpec | None) -> Broker:
    return Broker("default", "ns", "RabbitMQBroker", None, delivery)


@pytest.mark.parametrize(
    ("trigger", "broker", "expected"),
    [
        (
            DeliverySpec(dead_letter_sink=DLS_T),
            DeliverySpec(dead_letter_sink=DLS_B),
            DeadLetterRoute("trigger", DLS_T),
        ),
        (DeliverySpec(dead_letter_sink=DLS_T), None, DeadLetterRoute("trigger", DLS_T)),
        (None, DeliverySpec(dead_letter_sink=DLS_B), DeadLetterRoute("broker", DLS_B)),
        # the trigger has delivery without a DLS: dropped, even though the broker has one
        (DeliverySpec(retry=3), DeliverySpec(dead_letter_sink=DLS_B), None),
        (None, DeliverySpec(retry=3), None),
        (None, None, None),
    ],
)
def test_dead_letter_target(
    trigger: DeliverySpec | None, broker: DeliverySpec | None, expected: DeadLetterRoute | None
) -> None:
    assert dead_letter_target(_trigger(trigger), _broker(broker)) == expected
