"""Settings of the local runtime, read once from an explicit mapping (``RuntimeConfig.from_env(os.environ)``).

Every malformed value raises ``ConfigError`` naming the variable and what is wrong with it. Nothing
else in ``knlocal`` reads the environment.

=============================  ====================================  =========================================
variable                       default                               meaning
=============================  ====================================  =========================================
RABBITMQ_URL                   amqp://guest:guest@127.0.0.1:5672/%2F the broker's RabbitMQ
KNLOCAL_KNATIVE_DIR            <repo>/knative                        the manifests to run
KNLOCAL_STATE_DIR              <repo>/.observatory                   logs, pid files, runtime state
KNLOCAL_INGRESS_PORT           8090                                  broker ingress (the functions' K_SINK); 0 = any free port
KNLOCAL_ADMIN_PORT             8091                                  admin JSON; 0 = any free port
KNLOCAL_STABLE_WINDOW          unset (annotation, else 60s)          overrides every Service's stable window,
                                                                     e.g. "6s" in tests; whole seconds, 1s..1h
KNLOCAL_SCALE_TO_ZERO_GRACE    30s                                   scale-to-zero-grace-period
KNLOCAL_TICK_INTERVAL          2s                                    autoscaler decision interval
KNLOCAL_BROKER_UID             derived from namespace/broker         the UID in exchange and queue names; set a
                                                                     random one to isolate a test run
KNLOCAL_RETRY_DELAY_SCALE      1.0                                   multiplies every retry backoff (tests shrink it)
KNLOCAL_OBSERVABILITY          on                                    "off": do not run Prometheus and Alertmanager
                                                                     (they run only where installed anyway)
KNLOCAL_PROMETHEUS_PORT        9090                                  Prometheus on 127.0.0.1; 0 = any free port
KNLOCAL_ALERTMANAGER_PORT      9093                                  Alertmanager on 127.0.0.1; 0 = any free port
KNLOCAL_PORT_OVERRIDES         unset (the annotations)               a Service's local port, overriding its
                                                                     observatory.dev/local-port annotation:
                                                                     "gateway=13000,readmodel=18080"; 0 = any
                                                                     free port
=============================  ====================================  =========================================

Durations use Go syntax ("6s", "1m30s", "500ms"), like Knative's autoscaler settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from knlocal.eventing.naming import stable_uid
from knlocal.serving.kpa.durations import parse_go_duration

__all__ = ["DEFAULT_RABBITMQ_URL", "ConfigError", "RuntimeConfig", "default_repo_root"]

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A Knative Service's name: an RFC 1035 label.
_SERVICE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_SWITCH = {"on": True, "off": False}


class ConfigError(ValueError):
    """A runtime setting with a bad value; the message names the variable."""

    def __init__(self, variable: str, value: str, problem: str) -> None:
        self.variable = variable
        self.value = value
        super().__init__(f"{variable}={value!r}: {problem}")


def default_repo_root() -> Path:
    """The checkout this package lives in (``platform/knlocal`` -> repository root), else the working dir."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "knative").is_dir() else Path.cwd()


@dataclass(frozen=True)
class RuntimeConfig:
    rabbitmq_url: str = DEFAULT_RABBITMQ_URL
    knative_dir: Path = Path("knative")
    state_dir: Path = Path(".observatory")
    ingress_port: int = 8090
    admin_port: int = 8091
    stable_window_s: float | None = None
    scale_to_zero_grace_s: float = 30.0
    tick_interval_s: float = 2.0
    broker_uid: str | None = None
    retry_delay_scale: float = 1.0
    observability: bool = True
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    # Service name -> local port (0 = any free port); a mapping is unhashable, so it stays out of the hash.
    port_overrides: Mapping[str, int] = field(default_factory=dict, hash=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], repo_root: Path | None = None) -> RuntimeConfig:
        root = repo_root if repo_root is not None else default_repo_root()
        env = _Reader(environ)
        return cls(
            rabbitmq_url=env.amqp_url("RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
            knative_dir=env.path("KNLOCAL_KNATIVE_DIR", root / "knative", root),
            state_dir=env.path("KNLOCAL_STATE_DIR", root / ".observatory", root),
            ingress_port=env.port("KNLOCAL_INGRESS_PORT", 8090),
            admin_port=env.port("KNLOCAL_ADMIN_PORT", 8091),
            stable_window_s=env.stable_window("KNLOCAL_STABLE_WINDOW"),
            scale_to_zero_grace_s=env.duration("KNLOCAL_SCALE_TO_ZERO_GRACE", 30.0),
            tick_interval_s=env.duration("KNLOCAL_TICK_INTERVAL", 2.0),
            broker_uid=env.uid("KNLOCAL_BROKER_UID"),
            retry_delay_scale=env.scale("KNLOCAL_RETRY_DELAY_SCALE", 1.0),
            observability=env.switch("KNLOCAL_OBSERVABILITY", True),
            prometheus_port=env.port("KNLOCAL_PROMETHEUS_PORT", 9090),
            alertmanager_port=env.port("KNLOCAL_ALERTMANAGER_PORT", 9093),
            port_overrides=env.port_map("KNLOCAL_PORT_OVERRIDES"),
        )

    def broker_uid_for(self, namespace: str, broker: str) -> str:
        """The configured UID, else one derived from namespace/broker (stable across runs)."""
        return self.broker_uid if self.broker_uid is not None else stable_uid(namespace, broker)

    def trigger_uid_for(self, namespace: str, trigger: str, broker_uid: str) -> str:
        """Derived from the broker UID too, so an isolated broker UID isolates the trigger DLQs as well."""
        return stable_uid(namespace, trigger, broker_uid)


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def amqp_url(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if not value.startswith(("amqp://", "amqps://")):
            raise ConfigError(name, _redact(value), "must be an amqp:// or amqps:// URL")
        return value

    def path(self, name: str, default: Path, root: Path) -> Path:
        value = self.raw(name)
        if value is None:
            return default
        path = Path(value).expanduser()
        return path if path.is_absolute() else root / path

    def port(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if not value.isdigit() or int(value) > 65535:
            raise ConfigError(name, value, "must be a TCP port number 0..65535 (0 = any free port)")
        return int(value)

    def switch(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in _SWITCH:
            raise ConfigError(name, value, "must be on or off")
        return _SWITCH[value.lower()]

    def port_map(self, name: str) -> dict[str, int]:
        """``service=port`` pairs separated by commas; empty items are skipped, a repeated service is refused."""
        value = self.raw(name) or ""
        found: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            service, sep, port = (text.strip() for text in item.partition("="))
            if not sep or not _SERVICE.match(service) or not port.isdigit() or int(port) > 65535:
                raise ConfigError(
                    name, value, f"{item!r} is not service=port (a Service name, a port 0..65535)"
                )
            if service in found:
                raise ConfigError(name, value, f"{service!r} is given more than once")
            found[service] = int(port)
        return found

    def duration(self, name: str, default: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            seconds = parse_go_duration(value)
        except ValueError as exc:
            raise ConfigError(name, value, str(exc)) from exc
        if seconds <= 0:
            raise ConfigError(name, value, "must be greater than zero")
        return seconds

    def stable_window(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        seconds = self.duration(name, 0.0)
        if seconds != int(seconds) or not 1 <= seconds <= 3600:
            raise ConfigError(name, value, "must be whole seconds between 1s and 1h")
        return seconds

    def uid(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not _UID.match(value):
            raise ConfigError(name, value, "must be 1-64 characters of letters, digits, '.', '_' or '-'")
        return value

    def scale(self, name: str, default: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            factor = float(value)
        except ValueError as exc:
            raise ConfigError(name, value, "must be a number") from exc
        if not math.isfinite(factor) or factor < 0:
            raise ConfigError(name, value, "must be a finite number >= 0")
        return factor


def _redact(url: str) -> str:
    # Error messages end up in logs; never echo a password.
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
