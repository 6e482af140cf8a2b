"""Progress reporting for long work: numbered steps with counts and timings, and bars.

Services take an optional ``Reporter``; commands pass one that writes to their stdout,
tasks and tests pass none (``Reporter.silent()``). No Django, no global state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from tqdm import tqdm


@dataclass
class Reporter:
    write: Callable[[str], None] | None = None
    stream: TextIO | None = None
    history: list[dict] = field(default_factory=list)
    _step: int = 0

    @classmethod
    def silent(cls) -> Reporter:
        return cls()

    @classmethod
    def to_stream(cls, stream: TextIO | None = None) -> Reporter:
        stream = stream or sys.stdout
        # Django's OutputWrapper adds its own line ending; tqdm needs the raw stream.
        raw = getattr(stream, "_out", stream)

        def write(line: str) -> None:
            raw.write(line + "\n")
            raw.flush()

        return cls(write=write, stream=raw)

    def line(self, message: str) -> None:
        if self.write:
            self.write(message)

    @contextmanager
    def step(self, title: str) -> Iterator[dict]:
        """``with reporter.step("Aggregating events") as info: info["rows"] = n`` prints
        ``[3] Aggregating events ... rows=n (1.2 s)``."""
        self._step += 1
        number = self._step
        self.line(f"[{number}] {title} ...")
        info: dict = {}
        started = time.perf_counter()
        yield info
        elapsed = time.perf_counter() - started
        self.history.append({"step": title, "seconds": round(elapsed, 3), "info": dict(info)})
        details = " ".join(f"{key}={_fmt(value)}" for key, value in info.items())
        self.line(f"[{number}] {title}: done {details} ({elapsed:.2f} s)".replace("  ", " "))

    def bar(self, *, total: int | None, unit: str, desc: str) -> tqdm:
        return tqdm(
            total=total,
            unit=unit,
            desc=desc,
            unit_scale=True,
            disable=self.write is None,
            file=self.stream or sys.stderr,
            mininterval=0.5,
            dynamic_ncols=True,
        )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
