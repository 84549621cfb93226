"""Prometheus and Alertmanager beside the local runtime: config generation (pure) and the processes."""

from knlocal.observability.config import (
    COMMITTED_PORTS,
    LocalEndpoints,
    ObservabilityConfigError,
    external_targets,
    prometheus_config,
    render_yaml,
)
from knlocal.observability.processes import INSTALL_HINT, Observability

__all__ = [
    "COMMITTED_PORTS",
    "INSTALL_HINT",
    "LocalEndpoints",
    "Observability",
    "ObservabilityConfigError",
    "external_targets",
    "prometheus_config",
    "render_yaml",
]
