"""The trigger dead-letter objects the bench removes are exactly the ones knlocal names for a broker UID."""

from __future__ import annotations

from pathlib import Path

from knlocal.eventing.naming import stable_uid
from tui.bench.broker_names import trigger_dead_letter_objects

KNATIVE = Path(__file__).resolve().parents[3] / "knative"


def test_every_trigger_has_its_dlq_and_dlx_named_from_a_derived_uid() -> None:
    found = trigger_dead_letter_objects(KNATIVE, "bench-abc123-e2e")
    uid = stable_uid("observatory", "processor", "bench-abc123-e2e")
    assert ("queues", f"t.observatory.processor.dlq.{uid}") in found
    assert ("exchanges", f"t.observatory.processor.dlx.{uid}") in found
    assert len(found) == 2 * len({name.split(".")[2] for _, name in found})


def test_another_broker_uid_names_other_objects() -> None:
    assert not set(trigger_dead_letter_objects(KNATIVE, "bench-a")) & set(
        trigger_dead_letter_objects(KNATIVE, "bench-b")
    )
