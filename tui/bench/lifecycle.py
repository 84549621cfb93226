"""The one context-manager shape every process the benchmarks start follows."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Supervised:
    """``with X(...) as x`` starts it, and stops it on the way out; a failed start still cleans up."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
