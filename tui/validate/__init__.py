"""Offline validation of the knative/ and platform/ manifests (`observatory validate`)."""

from tui.validate.cli import add_parser, run

__all__ = ["add_parser", "run"]
