"""knlocal.config: runtime settings from an explicit mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from knlocal.config import DEFAULT_RABBITMQ_URL, ConfigError, RuntimeConfig
from knlocal.eventing.naming import stable_uid
from knlocal.serving.kpa.durations import parse_go_duration

ROOT = Path("/repo")


def test_defaults() -> None:
    cfg = RuntimeConfig.from_env({}, repo_root=ROOT)
    assert cfg == RuntimeConfig(
        rabbitmq_url=DEFAULT_RABBITMQ_URL,
        knative_dir=ROOT / "knative",
        state_dir=ROOT / ".observatory",
        ingress_port=8090,
        admin_port=8091,
        stable_window_s=None,
        scale_to_zero_grace_s=30.0,
        tick_interval_s=2.0,
        broker_uid=None,
        retry_delay_scale=1.0,
        port_overrides={},
    )
    assert cfg.broker_uid_for("observatory", "default") == stable_uid("observatory", "default")


def test_default_repo_root_finds_the_checkout() -> None:
    cfg = RuntimeConfig.from_env({})
    assert (cfg.knative_dir / "broker.yaml").is_file()


def test_overrides() -> None:
    cfg = RuntimeConfig.from_env(
        {
            "RABBITMQ_URL": "amqp://u:p@h:5673/v",
            "KNLOCAL_KNATIVE_DIR": "other/knative",
            "KNLOCAL_STATE_DIR": "/tmp/state",
            "KNLOCAL_INGRESS_PORT": "0",
            "KNLOCAL_ADMIN_PORT": "9000",
            "KNLOCAL_STABLE_WINDOW": "6s",
            "KNLOCAL_SCALE_TO_ZERO_GRACE": "1.5s",
            "KNLOCAL_TICK_INTERVAL": "500ms",
            "KNLOCAL_BROKER_UID": "test-1234",
            "KNLOCAL_RETRY_DELAY_SCALE": "0.01",
            "KNLOCAL_PORT_OVERRIDES": "gateway=13000,readmodel=0",
        },
        repo_root=ROOT,
    )
    assert cfg.rabbitmq_url == "amqp://u:p@h:5673/v"
    assert cfg.knative_dir == ROOT / "other/knative"
    assert cfg.state_dir == Path("/tmp/state")
    assert (cfg.ingress_port, cfg.admin_port) == (0, 9000)
    assert cfg.stable_window_s == 6.0
    assert cfg.scale_to_zero_grace_s == 1.5
    assert cfg.tick_interval_s == 0.5
    assert cfg.broker_uid_for("observatory", "default") == "test-1234"
    assert cfg.trigger_uid_for("observatory", "t", "test-1234") != cfg.trigger_uid_for(
        "observatory", "t", "x"
    )
    assert cfg.retry_delay_scale == 0.01
    assert cfg.port_overrides == {"gateway": 13000, "readmodel": 0}


def test_blank_means_default() -> None:
    assert RuntimeConfig.from_env({"KNLOCAL_INGRESS_PORT": " "}, repo_root=ROOT).ingress_port == 8090


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("RABBITMQ_URL", "http://x", "must be an amqp:// or amqps:// URL"),
        ("KNLOCAL_INGRESS_PORT", "80a", "must be a TCP port"),
        ("KNLOCAL_ADMIN_PORT", "70000", "must be a TCP port"),
        ("KNLOCAL_STABLE_WINDOW", "6", "is not a duration"),
        ("KNLOCAL_STABLE_WINDOW", "1.5s", "whole seconds"),
        ("KNLOCAL_STABLE_WINDOW", "2h", "whole seconds between 1s and 1h"),
        ("KNLOCAL_SCALE_TO_ZERO_GRACE", "0s", "greater than zero"),
        ("KNLOCAL_TICK_INTERVAL", "fast", "is not a duration"),
        ("KNLOCAL_BROKER_UID", "a b", "letters, digits"),
        ("KNLOCAL_RETRY_DELAY_SCALE", "half", "must be a number"),
        ("KNLOCAL_RETRY_DELAY_SCALE", "-1", ">= 0"),
        ("KNLOCAL_RETRY_DELAY_SCALE", "nan", "finite"),
    ],
)
def test_errors_name_the_variable(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.from_env({variable: value}, repo_root=ROOT)
    assert str(info.value).startswith(f"{variable}=")
    assert fragment in str(info.value)
    assert info.value.variable == variable


def test_bad_url_error_hides_password() -> None:
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.from_env({"RABBITMQ_URL": "http://user:secret@host/"}, repo_root=ROOT)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("6s", 6.0),
        ("1m30s", 90.0),
        ("300ms", 0.3),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        ("1h0m0s", 3600.0),
        ("-1s", -1.0),
        ("100us", 1e-4),
        (".5s", 0.5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "6", "1d", "1m 30s", "PT1S", "--1s", "1.s.s"])
def test_go_duration_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


@pytest.mark.parametrize(
    ("raw", "overrides"),
    [
        ("", {}),
        ("  ", {}),
        ("gateway=13000,readmodel=18080", {"gateway": 13000, "readmodel": 18080}),
        ("gateway=0, readmodel = 0", {"gateway": 0, "readmodel": 0}),  # 0 = any free port
        ("processor=65535,", {"processor": 65535}),  # empty items are skipped
        ("dead-letter-2=1", {"dead-letter-2": 1}),
    ],
)
def test_port_overrides(raw: str, overrides: dict[str, int]) -> None:
    cfg = RuntimeConfig.from_env({"KNLOCAL_PORT_OVERRIDES": raw}, repo_root=ROOT)
    assert cfg.port_overrides == overrides


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("gateway", "'gateway' is not service=port"),
        ("gateway=", "'gateway=' is not service=port"),
        ("=3000", "'=3000' is not service=port"),
        ("gateway=http", "'gateway=http' is not service=port"),
        ("gateway=-1", "'gateway=-1' is not service=port"),
        ("gateway=70000", "'gateway=70000' is not service=port"),
        ("Gateway=3000", "'Gateway=3000' is not service=port"),
        ("gateway=3000;readmodel=8080", "is not service=port"),
        ("gateway=3000,gateway=3001", "'gateway' is given more than once"),
    ],
)
def test_bad_port_overrides_name_the_variable(raw: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.from_env({"KNLOCAL_PORT_OVERRIDES": raw}, repo_root=ROOT)
    assert info.value.variable == "KNLOCAL_PORT_OVERRIDES"
    assert str(info.value).startswith("KNLOCAL_PORT_OVERRIDES=")
    assert fragment in str(info.value)


def test_config_with_port_overrides_still_hashes() -> None:
    cfg = RuntimeConfig.from_env({"KNLOCAL_PORT_OVERRIDES": "gateway=1"}, repo_root=ROOT)
    assert hash(cfg) == hash(RuntimeConfig.from_env({}, repo_root=ROOT))
