"""The RabbitMQ objects a runtime declares for a broker UID, named by knlocal's own naming rules.

Queue and exchange names that embed the broker UID are found by that marker; a Trigger's dead-letter
queue and exchange embed a UID *derived* from it (a hash), so they are computed here from the Triggers in
``knative/`` rather than guessed.
"""

from __future__ import annotations

from pathlib import Path

from knlocal import manifests
from knlocal.config import RuntimeConfig
from knlocal.eventing.naming import trigger_names

__all__ = ["trigger_dead_letter_objects"]


def trigger_dead_letter_objects(knative_dir: Path, broker_uid: str) -> list[tuple[str, str]]:
    """(kind, name) of every Trigger's DLQ ("queues") and DLX ("exchanges") for ``broker_uid``."""
    topology = manifests.load_topology(knative_dir)
    config = RuntimeConfig(broker_uid=broker_uid)
    found: list[tuple[str, str]] = []
    for trigger in topology.triggers.values():
        uid = config.trigger_uid_for(trigger.namespace, trigger.name, broker_uid)
        names = trigger_names(trigger.namespace, trigger.name, broker_uid, uid)
        found += [("queues", names.dlq), ("exchanges", names.dlx)]
    return found
