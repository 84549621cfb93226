"""knlocal.eventing.filters: RabbitMQ headers-exchange matching of Trigger filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from knlocal.eventing.filters import (
    amqp_headers,
    binding_arguments,
    dlq_binding_arguments,
    headers_match,
    matches,
)

SUBMITTED = {
    "specversion": "1.0",
    "id": "e1",
    "source": "/observatory/gateway",
    "type": "dev.observatory.job.submitted",
    "jobtype": "echo",
    "attempt": 3,
    "urgent": True,
    "empty": "",
}


def test_binding_arguments() -> None:
    assert binding_arguments("processor", {"type": "dev.observatory.job.submitted"}) == {
        "type": "dev.observatory.job.submitted",
        "x-knative-trigger": "processor",
        "x-match": "all",
    }
    assert binding_arguments("all", {}) == {"x-knative-trigger": "all", "x-match": "all"}


@pytest.mark.parametrize(
    ("filter_attributes", "expected"),
    [
        ({}, True),  # no filter: every event
        ({"type": "dev.observatory.job.submitted"}, True),
        ({"type": "dev.observatory.job.started"}, False),
        ({"type": "dev.observatory.job.submitted", "jobtype": "echo"}, True),  # AND
        ({"type": "dev.observatory.job.submitted", "jobtype": "hash"}, False),
        ({"type": "dev.observatory.job."}, False),  # exact only, no prefix
        ({"type": "DEV.OBSERVATORY.JOB.SUBMITTED"}, False),  # case-sensitive
        ({"missing": "x"}, False),  # absent header never matches
        ({"empty": ""}, True),  # "" = header equals the empty string (RMQ), not "non-empty" (MT)
        ({"jobtype": ""}, False),  # ... so a non-empty value does not match ""
        ({"missing": ""}, False),  # ... and absence does not either
        ({"attempt": "3"}, False),  # type-sensitive: string filter vs integer header
        ({"urgent": "true"}, False),
    ],
)
def test_matches(filter_attributes: dict[str, str], expected: bool) -> None:
    assert matches(SUBMITTED, filter_attributes) is expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"x-match": "any", "type": "nope", "jobtype": "echo"}, True),
        ({"x-match": "any", "type": "nope", "jobtype": "nope"}, False),
        ({"x-match": "any"}, False),  # any over nothing
        ({"x-match": "all"}, True),  # all over nothing
        ({}, True),  # x-match defaults to all
        ({"x-match": "all", "x-knative-trigger": "t"}, True),  # x- keys ignored
        ({"x-match": "all-with-x", "x-knative-trigger": "t"}, False),  # ... unless -with-x
        ({"x-match": "any-with-x", "x-knative-trigger": "t", "type": "nope"}, False),
        ({"attempt": 3}, True),
        ({"attempt": 3.0}, False),  # int and float are different type classes
        ({"urgent": 1}, False),  # bool is not an int to RabbitMQ
        ({"urgent": True}, True),
        ({"jobtype": None}, True),  # void value: presence only
        ({"missing": None}, False),
    ],
)
def test_headers_match(args: dict[str, object], expected: bool) -> None:
    assert headers_match(SUBMITTED, args) is expected


def test_unknown_x_match() -> None:
    with pytest.raises(ValueError, match="x-match 'some'"):
        headers_match({}, {"x-match": "some"})


def test_dlq_binding_matches_everything() -> None:
    assert headers_match(SUBMITTED, dlq_binding_arguments("default"))
    assert headers_match({}, dlq_binding_arguments("processor"))


def test_amqp_headers() -> None:
    attrs = {
        "specversion": "1.0",
        "id": "e1",
        "type": "t",
        "source": "/s",
        "datacontenttype": "application/json",
        "time": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "dataschema": None,
        "attempt": 2,
    }
    assert amqp_headers(attrs) == {
        "specversion": "1.0",
        "id": "e1",
        "type": "t",
        "source": "/s",
        "content-type": "application/json",
        "time": "2025-01-02T03:04:05Z",
        "attempt": 2,
    }
    assert not matches(amqp_headers(attrs), {"datacontenttype": "application/json"})
