"""Trigger filtering as the RabbitMQ broker does it: a headers-exchange binding per Trigger.

Pure functions, no I/O. The broker publishes each CloudEvent with its attributes as AMQP headers
(``amqp_headers``) to one headers exchange. Each Trigger's queue is bound with arguments
``filter.attributes`` + ``x-knative-trigger: <name>`` + ``x-match: all`` (``binding_arguments``), and
RabbitMQ delivers a copy to every queue whose binding matches (``headers_match``). ``matches`` answers
"would this Trigger receive this event" in one call. The runtime lets RabbitMQ do the routing; these
functions exist so that routing can be explained, tested and shown without a broker.

Differences from the core (MT) broker, on purpose:

* ``""`` as a filter value means *the header equals the empty string*. In the MT broker it means
  "present and non-empty"; RabbitMQ has no such wildcard.
* Comparison is type-sensitive, as RabbitMQ compares AMQP field types by class: the filter value
  ``"5"`` (a string) does not match an extension carried as the integer ``5``.
* ``spec.filters`` (prefix, suffix, cesql, ...) is not applied at all: a Trigger with only ``filters``
  receives every event (``knlocal.manifests`` warns about it).
* ``datacontenttype`` travels as the ``content-type`` header, so a filter on ``datacontenttype`` never matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

__all__ = [
    "TRIGGER_ARGUMENT",
    "amqp_headers",
    "binding_arguments",
    "dlq_binding_arguments",
    "headers_match",
    "matches",
]

TRIGGER_ARGUMENT = "x-knative-trigger"
DLQ_ARGUMENT = "x-knative-dlq"
_MATCH_MODES = ("all", "any", "all-with-x", "any-with-x")


def binding_arguments(trigger: str, filter_attributes: Mapping[str, str]) -> dict[str, str]:
    """Arguments of the binding from the broker exchange to a Trigger's queue.

    ``x-knative-trigger`` makes each Trigger's binding distinct (two Triggers with equal filters would
    otherwise share one binding); RabbitMQ ignores it when matching with ``x-match: all``.
    """
    args = dict(filter_attributes)
    args[TRIGGER_ARGUMENT] = trigger
    args["x-match"] = "all"
    return args


def dlq_binding_arguments(owner: str) -> dict[str, str]:
    """Arguments binding a dead-letter queue to its DLX; with no plain keys, it receives every message."""
    return {"x-match": "all", DLQ_ARGUMENT: owner}


def amqp_headers(attributes: Mapping[str, object]) -> dict[str, object]:
    """The AMQP headers the broker ingress sets for a CloudEvent: attribute names without ``ce-``.

    ``datacontenttype`` becomes ``content-type``; ``time`` is sent as RFC 3339 text; extensions keep
    their type (a string, an integer or a boolean), which is what makes filtering type-sensitive.
    """
    headers: dict[str, object] = {}
    for name, value in attributes.items():
        if name == "data" or value is None:
            continue
        key = "content-type" if name == "datacontenttype" else name
        headers[key] = value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
    return headers


def _type_class(value: object) -> str:
    # RabbitMQ compares field types by class: every integer width is one class, so is every float width.
    # bool is tested first because Python's bool is an int.
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "longstr"
    if isinstance(value, bytes | bytearray):
        return "binary"
    return type(value).__name__


def _value_matches(pattern: object, data: object) -> bool:
    if pattern is None:  # a void binding value asks only for the header's presence
        return True
    return _type_class(pattern) == _type_class(data) and pattern == data


def headers_match(headers: Mapping[str, object], binding_args: Mapping[str, object]) -> bool:
    """Whether a message with ``headers`` is routed through a headers-exchange binding with ``binding_args``.

    Mirrors RabbitMQ: ``x-match`` is ``all`` (default), ``any``, ``all-with-x`` or ``any-with-x``; in the
    first two, binding keys starting with ``x-`` take no part. ``all`` over no keys matches; ``any`` over
    no keys does not.
    """
    mode = binding_args.get("x-match", "all")
    if mode not in _MATCH_MODES:
        raise ValueError(f"x-match {mode!r} is not one of {', '.join(_MATCH_MODES)}")
    with_x = str(mode).endswith("-with-x")
    keys = [k for k in binding_args if k != "x-match" and (with_x or not k.startswith("x-"))]
    results = (k in headers and _value_matches(binding_args[k], headers[k]) for k in keys)
    return all(results) if str(mode).startswith("all") else any(results)


def matches(headers: Mapping[str, object], filter_attributes: Mapping[str, str]) -> bool:
    """Whether a Trigger with ``filter.attributes`` receives an event published with ``headers``.

    An empty filter matches every event. Use ``amqp_headers`` to turn CloudEvent attributes into headers.
    """
    return headers_match(headers, binding_arguments("", filter_attributes))
