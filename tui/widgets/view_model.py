"""Pure view logic of the Textual client: formatting, filtering, ordering. No I/O, no Textual.

Kept apart so each decision is tested as a table of vectors (tests/unit/tui/test_tui_view_model.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

STATUSES = ("PENDING", "EXECUTING", "COMPLETED", "FAILED", "DEAD_LETTERED")
JOB_TYPES = ("echo", "sleep", "hash", "wordcount", "fail", "flaky")
STATUS_COLOURS = {
    "PENDING": "yellow",
    "EXECUTING": "cyan",
    "COMPLETED": "green",
    "FAILED": "red",
    "DEAD_LETTERED": "magenta",
}
MIN_SEARCH = 3  # the read model refuses shorter searches (its trigram index needs three characters)
MAX_ROWS = 500  # rows the live table keeps; older ones fall off the end

# A payload per job type that its schema accepts, to start editing from in the new-job screen.
SAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    "echo": {"message": "hello from the observatory"},
    "sleep": {"seconds": 2},
    "hash": {"data": "observatory", "rounds": 1000, "algorithm": "sha256"},
    "wordcount": {"text": "the quick brown fox jumps over the lazy dog"},
    "fail": {"message": "failing on purpose", "retryable": False},
    "flaky": {"failureRate": 0.5},
}


@dataclass(frozen=True)
class LocalUi:
    key: str
    name: str
    port: int
    path: str
    description: str
    base: str | None = None  # where the dashboard was told it runs, when not on the default port

    @property
    def url(self) -> str:
        return f"{self.base or f'http://127.0.0.1:{self.port}'}{self.path}"


# The same list as platform/launcher/launcher.html and the web mirror's launcher (DESIGN.md's port map).
LOCAL_UIS = (
    LocalUi("web", "Web mirror", 8081, "/", "this dashboard in a browser (`observatory web`)"),
    LocalUi("gateway", "Gateway API", 3000, "/openapi.json", "submit jobs; its OpenAPI document"),
    LocalUi(
        "readmodel", "Read model API", 8080, "/openapi.json", "every read the UIs make; OpenAPI document"
    ),
    LocalUi("rabbitmq", "RabbitMQ management", 15672, "/", "broker exchange, trigger queues (guest/guest)"),
    LocalUi("prometheus", "Prometheus", 9090, "/", "metrics and alert rules"),
    LocalUi("alertmanager", "Alertmanager", 9093, "/", "active and silenced alerts"),
    LocalUi("grafana", "Grafana", 3002, "/", "the Task Observatory dashboard"),
)


def local_uis(read_model: str, gateway: str) -> list[LocalUi]:
    """The launcher's list, with the read model and gateway where this dashboard reaches them."""
    bases = {"readmodel": read_model.rstrip("/"), "gateway": gateway.rstrip("/")}
    return [replace(ui, base=bases[ui.key]) if ui.key in bases else ui for ui in LOCAL_UIS]


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    job_type: str | None = None
    q: str | None = None

    def describe(self) -> str:
        parts = [f"status={self.status}" if self.status else "", f"type={self.job_type}" if self.job_type else "",
                 f"search={self.q!r}" if self.q else ""]  # fmt: skip
        return " ".join(p for p in parts if p) or "all jobs"


def search_text(raw: str) -> tuple[str | None, str | None]:
    """The search box → (query to send, or None; a hint when the text cannot be sent yet)."""
    text = raw.strip()
    if not text:
        return None, None
    if len(text) < MIN_SEARCH:
        return None, f"type at least {MIN_SEARCH} characters to search"
    return text[:200], None


def matches(job: Mapping[str, Any], wanted: JobFilter) -> bool:
    """Whether a job from the live stream belongs in the filtered table.

    The search runs on the server over id, type and payload; the stream carries no payload, so a live job
    is only added while searching when its id or type contains the text (the next refresh finds the rest).
    """
    if wanted.status and job.get("status") != wanted.status:
        return False
    if wanted.job_type and job.get("type") != wanted.job_type:
        return False
    if wanted.q:
        needle = wanted.q.lower()
        return needle in str(job.get("id", "")).lower() or needle in str(job.get("type", "")).lower()
    return True


def _order_key(job: Mapping[str, Any]) -> tuple[str, str]:
    return (str(job.get("createdAt") or ""), str(job.get("id") or ""))


def upsert(
    jobs: Sequence[Mapping[str, Any]], job: Mapping[str, Any], wanted: JobFilter, cap: int = MAX_ROWS
) -> list[dict[str, Any]]:
    """The table after one live change: newest first (createdAt, id), a known row replaced in place, a
    row that no longer matches the filter removed, a new matching row inserted."""
    found = [dict(j) for j in jobs if j.get("id") != job.get("id")]
    if matches(job, wanted):
        found.append(dict(job))
    found.sort(key=_order_key, reverse=True)
    return found[:cap]


def merge_page(jobs: Sequence[Mapping[str, Any]], page: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """An older page appended below the rows shown (a row seen twice is kept once, the newest copy)."""
    seen = {str(j.get("id")) for j in page}
    kept = [dict(j) for j in jobs if str(j.get("id")) not in seen] + [dict(j) for j in page]
    kept.sort(key=_order_key, reverse=True)
    return kept


def short_id(value: object) -> str:
    text = str(value or "")
    return text[:8] if len(text) > 8 else text


def parse_time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def clock(raw: object, *, precise: bool = False) -> str:
    """An RFC 3339 time as the local HH:MM:SS (with milliseconds when ``precise``), or a dash."""
    found = parse_time(raw)
    if found is None:
        return "—"
    local = found.astimezone()
    return local.strftime("%H:%M:%S") + (f".{local.microsecond // 1000:03d}" if precise else "")


def ago(raw: object, now: datetime) -> str:
    found = parse_time(raw)
    if found is None:
        return "never"
    seconds = max(0, int((now - found).total_seconds()))
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def millis(value: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def compact_json(value: Any, limit: int = 80) -> str:
    if value is None:
        return ""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_payload(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The payload editor's text → (object, None) or (None, why it cannot be sent)."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        return None, f"payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if not isinstance(value, dict):
        return None, 'payload must be a JSON object, e.g. {"message": "hi"}'
    return value, None


def browser_blocker(env: Mapping[str, str], platform: str) -> str | None:
    """Why a browser cannot be opened from here (None when it can): over SSH the browser would open on
    the remote machine, and a Linux session without a display has none to open."""
    if env.get("SSH_CLIENT") or env.get("SSH_TTY"):
        return "SSH session: open the URL on your own machine"
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return "no display here (DISPLAY unset): open the URL in a browser yourself"
    return None


def throughput_summary(stats: Mapping[str, Any]) -> tuple[list[float], str]:
    found = stats.get("throughput")
    per_second = found.get("perSecond") if isinstance(found, Mapping) else None
    values = (
        [float(v) for v in per_second if isinstance(v, int | float)] if isinstance(per_second, list) else []
    )
    total = int(sum(values))
    peak = int(max(values)) if values else 0
    return values, f"{total} events in the last {len(values) or 60}s · peak {peak}/s"


def runtime_summary(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(function, 'actual/desired instances, queued') from the runtime's admin JSON when the read model has it."""
    runtime = stats.get("runtime")
    services = runtime.get("services") if isinstance(runtime, Mapping) else None
    if not isinstance(services, list):
        return []
    rows = []
    for s in services:
        if not isinstance(s, Mapping):
            continue
        text = f"{s.get('actual', '?')}/{s.get('desired', '?')}"
        if s.get("queued"):
            text += f" q{s.get('queued')}"
        if s.get("panic"):
            text += " panic"
        rows.append((str(s.get("name", "?")), text))
    return rows


def problem_lines(errors: Sequence[Any]) -> list[str]:
    """Field errors as 'where: what', the pointer's ``/payload/...`` shown as a path a person reads."""
    lines = []
    for error in errors:
        pointer = str(getattr(error, "pointer", "") or "")
        message = str(getattr(error, "message", "") or "")
        where = pointer.lstrip("/").replace("/", ".") or "(whole body)"
        lines.append(f"{where}: {message}")
    return lines


def reconnect_delay(attempt: int, base_s: float, cap_s: float = 15.0) -> float:
    """Seconds to wait before reconnect ``attempt`` (1, 2, …): grows by half each time, capped."""
    return float(min(cap_s, base_s * 1.5 ** max(0, attempt - 1)))


def sparkline_data(values: Sequence[float]) -> list[float]:
    """Bars for Textual's Sparkline, which scales from the smallest value: a leading 0 anchors the scale
    at zero (so a steady 40/s does not look like nothing), and two points avoid its one-value full bar."""
    data = [float(v) for v in values]
    if not data or min(data) > 0:
        data = [0.0, *data]
    return data if len(data) >= 2 else [0.0, 0.0]
