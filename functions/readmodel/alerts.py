"""GET /alerts: the active alerts from Alertmanager's v2 API, or an empty list naming the missing source.

Decision: when Alertmanager is configured but unreachable the answer is still 200, with ``alerts: []``
and an ``error`` member. The read model itself is healthy; a 502 would make every client treat an
optional panel as a failed page. Clients show ``error`` where the alerts would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from functions.readmodel.resources import ALERTS_TIMEOUT_S

NO_SOURCE = "no alert source: set ALERTMANAGER_URL to list Alertmanager's active alerts"


def alert_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    labels = raw.get("labels") if isinstance(raw.get("labels"), Mapping) else {}
    notes = raw.get("annotations") if isinstance(raw.get("annotations"), Mapping) else {}
    status = raw.get("status") if isinstance(raw.get("status"), Mapping) else {}
    assert isinstance(labels, Mapping) and isinstance(notes, Mapping) and isinstance(status, Mapping)
    return {
        "name": labels.get("alertname"),
        "severity": labels.get("severity"),
        "state": status.get("state"),
        "summary": notes.get("summary"),
        "description": notes.get("description"),
        "startsAt": raw.get("startsAt"),
        "endsAt": raw.get("endsAt"),
        "fingerprint": raw.get("fingerprint"),
        "labels": dict(labels),
    }


async def active_alerts(http: httpx.AsyncClient, base_url: str | None) -> dict[str, Any]:
    if base_url is None:
        return {"source": None, "alerts": [], "note": NO_SOURCE}
    url = base_url.rstrip("/") + "/api/v2/alerts"
    try:
        response = await http.get(
            url, params={"active": "true", "silenced": "false"}, timeout=ALERTS_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        return {
            "source": base_url,
            "alerts": [],
            "error": f"Alertmanager unreachable: {exc.__class__.__name__}",
        }
    if response.status_code != 200:
        return {"source": base_url, "alerts": [], "error": f"Alertmanager answered {response.status_code}"}
    try:
        found = response.json()
    except ValueError:
        found = None
    if not isinstance(found, list):
        return {
            "source": base_url,
            "alerts": [],
            "error": "Alertmanager answered something other than a list",
        }
    alerts = [alert_view(a) for a in found if isinstance(a, Mapping)]
    alerts.sort(key=lambda a: (str(a["severity"] or ""), str(a["startsAt"] or "")), reverse=True)
    return {"source": base_url, "alerts": alerts}
