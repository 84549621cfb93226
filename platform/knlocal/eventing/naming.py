"""RabbitMQ names of a broker's exchanges and queues, as eventing-rabbitmq's ``rabbitmqnaming`` forms them.

Pure functions, no I/O. Formats (``uid`` is the broker's UID unless stated otherwise):

=====================  ======================================  ===============================
object                 name                                    notes
=====================  ======================================  ===============================
broker exchange        ``b.<ns>.<broker>.<uid>``               headers exchange, durable
broker DLX             ``b.<ns>.<broker>.dlx.<uid>``           only when the broker has a DLS
broker DLQ             ``b.<ns>.<broker>.dlq.<uid>``           bound to the broker DLX
trigger queue          ``<ns>.<trigger>.<uid>``                ends in the broker UID, so the
                                                               broker DLX policy ``<uid>$`` hits it
trigger DLX            ``t.<ns>.<trigger>.dlx.<triggerUID>``   only when the trigger has a DLS
trigger DLQ            ``t.<ns>.<trigger>.dlq.<triggerUID>``   bound to the trigger DLX
=====================  ======================================  ===============================

AMQP short strings cap exchange and queue names at 255 bytes. Kubernetes names (63 characters each for
namespace, broker and trigger) plus a 36-character UID always fit, but names built here from anything
longer are shortened the way Knative's ``kmeta.ChildName`` does it: keep the suffix (the UID) whole,
cut the prefix and put the MD5 of the full prefix in its place, so distinct long names stay distinct.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

__all__ = [
    "AMQP_NAME_LIMIT",
    "BrokerNames",
    "TriggerNames",
    "broker_names",
    "child_name",
    "stable_uid",
    "trigger_names",
]

AMQP_NAME_LIMIT = 255
_MD5_HEX_LEN = 32
# Fixed namespace for uuid5 so a given namespace/name always yields the same UID on every machine.
_UID_NAMESPACE = uuid.UUID("5b0f3c9e-8a55-4f3e-9a4c-6b6e6f6c6f63")


def child_name(prefix: str, suffix: str, limit: int = AMQP_NAME_LIMIT) -> str:
    """``prefix + suffix`` if it fits in ``limit`` bytes, else a cut prefix + md5(prefix) + suffix.

    If the suffix alone leaves no room for the hash, the whole name is cut and hashed instead.
    """
    whole = prefix + suffix
    if len(whole.encode()) <= limit:
        return whole
    suffix_len = len(suffix.encode())
    if suffix_len + _MD5_HEX_LEN > limit:
        digest = hashlib.md5(whole.encode(), usedforsecurity=False).hexdigest()
        return _cut(whole, limit - _MD5_HEX_LEN) + digest
    digest = hashlib.md5(prefix.encode(), usedforsecurity=False).hexdigest()
    return _cut(prefix, limit - _MD5_HEX_LEN - suffix_len) + digest + suffix


def _cut(text: str, max_bytes: int) -> str:
    # Cut on bytes, never inside a UTF-8 sequence.
    return text.encode()[: max(max_bytes, 0)].decode(errors="ignore")


def stable_uid(*parts: str) -> str:
    """A UUID-shaped UID derived from ``parts`` (e.g. namespace, name): stable across runs and machines.

    Knative objects get a random UID at creation; locally there is no API server, so the runtime derives
    one to keep queue names (and the messages in them) stable from one start to the next.
    """
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class BrokerNames:
    exchange: str
    dlx: str
    dlq: str


@dataclass(frozen=True)
class TriggerNames:
    queue: str
    dlx: str
    dlq: str


def broker_names(namespace: str, broker: str, broker_uid: str) -> BrokerNames:
    return BrokerNames(
        exchange=child_name(f"b.{namespace}.{broker}.", broker_uid),
        dlx=child_name(f"b.{namespace}.{broker}.dlx.", broker_uid),
        dlq=child_name(f"b.{namespace}.{broker}.dlq.", broker_uid),
    )


def trigger_names(namespace: str, trigger: str, broker_uid: str, trigger_uid: str) -> TriggerNames:
    return TriggerNames(
        queue=child_name(f"{namespace}.{trigger}.", broker_uid),
        dlx=child_name(f"t.{namespace}.{trigger}.dlx.", trigger_uid),
        dlq=child_name(f"t.{namespace}.{trigger}.dlq.", trigger_uid),
    )
