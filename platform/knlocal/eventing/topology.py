"""What one Broker needs in RabbitMQ (``plan``, pure) and declaring it (``declare``, idempotent).

As eventing-rabbitmq creates it (names from ``naming``): a durable headers exchange per Broker; per
Trigger a durable queue bound with ``filter.attributes`` + ``x-knative-trigger`` + ``x-match: all``;
a DLX (headers exchange) + DLQ for the Broker when it has a dead-letter sink, and for each Trigger
whose own delivery has one.

Where this differs: the RabbitMQ broker also installs a DLX *policy* on the trigger queues so messages
rejected by RabbitMQ itself land in the DLQ. Its dispatcher never rejects (it acks, then publishes the
failed event to the DLX itself), and neither does ours, so no policy is created.

Queue type follows ``RabbitmqBrokerConfig.spec.queueType`` (quorum by default; RabbitMQ 3.10 declares
quorum queues on a single node), and a Broker whose ``spec.config`` names a ``RabbitmqCluster``
directly gets classic queues, as upstream forces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from knlocal import manifests
from knlocal.config import RuntimeConfig
from knlocal.eventing.amqp import Channel
from knlocal.eventing.delivery import dead_letter_target
from knlocal.eventing.filters import binding_arguments, dlq_binding_arguments
from knlocal.eventing.naming import broker_names, trigger_names

__all__ = [
    "Binding",
    "Plan",
    "TriggerPlan",
    "declare",
    "delete",
    "plan",
    "queue_type",
    "unsupported_filter_warnings",
]

log = logging.getLogger("knlocal.eventing.topology")


@dataclass(frozen=True)
class Binding:
    queue: str
    exchange: str
    arguments: dict[str, str]


@dataclass(frozen=True)
class TriggerPlan:
    trigger: manifests.Trigger
    queue: str
    dead_letter_exchange: str | None  # where the dispatcher publishes failed events; None = dropped
    dlx: str | None = None  # this Trigger's own DLX/DLQ, when its delivery has a DLS
    dlq: str | None = None


@dataclass(frozen=True)
class Plan:
    broker: manifests.Broker
    exchange: str
    queue_arguments: dict[str, str]
    triggers: tuple[TriggerPlan, ...]
    dlx: str | None = None  # the Broker's DLX/DLQ, when its delivery has a DLS
    dlq: str | None = None
    exchanges: tuple[str, ...] = field(default=())
    bindings: tuple[Binding, ...] = field(default=())

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.queue for b in self.bindings))


def queue_type(topology: manifests.Topology, broker: manifests.Broker) -> str:
    ref = broker.config_ref
    if ref is None or ref.kind != "RabbitmqBrokerConfig":
        return "classic"
    config = topology.broker_configs.get(ref.name)
    return config.queue_type if config is not None else "quorum"


def plan(topology: manifests.Topology, broker: manifests.Broker, config: RuntimeConfig) -> Plan:
    broker_uid = config.broker_uid_for(broker.namespace, broker.name)
    names = broker_names(broker.namespace, broker.name, broker_uid)
    has_broker_dls = broker.delivery is not None and broker.delivery.dead_letter_sink is not None
    exchanges = [names.exchange]
    bindings: list[Binding] = []
    if has_broker_dls:
        exchanges.append(names.dlx)
        bindings.append(Binding(names.dlq, names.dlx, dlq_binding_arguments(broker.name)))
    triggers = []
    for trigger in sorted(topology.triggers_for(broker.name), key=lambda t: t.name):
        tnames = trigger_names(
            trigger.namespace,
            trigger.name,
            broker_uid,
            config.trigger_uid_for(trigger.namespace, trigger.name, broker_uid),
        )
        bindings.append(
            Binding(tnames.queue, names.exchange, binding_arguments(trigger.name, trigger.filter_attributes))
        )
        route = dead_letter_target(trigger, broker)
        own = route is not None and route.scope == "trigger"
        if own:
            exchanges.append(tnames.dlx)
            bindings.append(Binding(tnames.dlq, tnames.dlx, dlq_binding_arguments(trigger.name)))
        target = None if route is None else (tnames.dlx if own else names.dlx)
        triggers.append(
            TriggerPlan(
                trigger,
                tnames.queue,
                target,
                tnames.dlx if own else None,
                tnames.dlq if own else None,
            )
        )
    return Plan(
        broker=broker,
        exchange=names.exchange,
        queue_arguments={"x-queue-type": queue_type(topology, broker)},
        triggers=tuple(triggers),
        dlx=names.dlx if has_broker_dls else None,
        dlq=names.dlq if has_broker_dls else None,
        exchanges=tuple(exchanges),
        bindings=tuple(bindings),
    )


def unsupported_filter_warnings(plan: Plan) -> list[str]:
    """One line per Trigger whose ``spec.filters`` the RabbitMQ broker ignores."""
    return [
        f"trigger {tp.trigger.namespace}/{tp.trigger.name}: spec.filters is unsupported by the RabbitMQ broker "
        "and ignored; the trigger receives every event that matches spec.filter.attributes"
        for tp in plan.triggers
        if tp.trigger.has_filters
    ]


async def declare(channel: Channel, plan: Plan) -> None:
    """Declare exchanges, queues and bindings; running it again changes nothing."""
    for exchange in plan.exchanges:
        await channel.exchange_declare(exchange, "headers")
    for queue in plan.queues:
        await channel.queue_declare(queue, arguments=dict(plan.queue_arguments))
    for binding in plan.bindings:
        await channel.queue_bind(binding.queue, binding.exchange, dict(binding.arguments))


async def delete(channel: Channel, plan: Plan) -> None:
    """Remove everything ``declare`` made (tests and ``down --purge``); queued messages are lost."""
    for queue in plan.queues:
        await channel.queue_delete(queue)
    for exchange in plan.exchanges:
        await channel.exchange_delete(exchange)
