"""What an experiment compares, and who gets which arm. Pure Python and numpy, no Django.

**Rankers.** Each side of an experiment is a model version of the registry (``v7``) or a
baseline that needs no model: ``bm25`` and ``popularity`` order by their feature of the
contract (declared in ``ranking.rankers``), ``random`` shuffles (seeded by the request),
``input`` keeps the order the shop sent (its own search: offline this is ``logging``).

**Arms.** A unit is the user (the session when the request has no user id, the request
itself when it has neither). Its bucket is a number in [0, 1) from a hash of the experiment
and the unit; the unit is in the challenger's share when its bucket is below the share. The
same unit always lands in the same arm of an experiment (whichever worker serves it), a
different experiment reshuffles everyone, and raising the share (a canary stage) only adds
units to the challenger: nobody who had the challenger goes back.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from ranking.features.contract import INDEX
from ranking.rankers import BY_NAME, ONLINE_BASELINES


class Arm(StrEnum):
    """What a search of an experiment was served, as the impression log records it."""

    CONTROL = "control"  # A/B: the control's order
    CHALLENGER = "challenger"  # A/B: the challenger's order
    INTERLEAVED = "interleaved"  # interleaving: the team draft of both
    SHADOW = "shadow"  # shadow: the control's order, the challenger's recorded beside it


_OWN_DESCRIPTIONS = {
    "random": "a random order, seeded by the request",
    "input": "the order the shop sent the candidates in",
}
BASELINES: dict[str, str] = {
    name: _OWN_DESCRIPTIONS.get(name) or BY_NAME[name].description for name in ONLINE_BASELINES
}
_VERSION = re.compile(r"^v?(\d+)$", re.IGNORECASE)


class RankerRef(NamedTuple):
    """One side of an experiment: a model version, or a baseline by name."""

    version: int | None = None
    baseline: str = ""

    @property
    def label(self) -> str:
        return f"v{self.version}" if self.version is not None else self.baseline


def ranker_parse(text: str) -> RankerRef:
    """``"v7"`` or ``"7"`` is model version 7; ``bm25``, ``popularity``, ``random`` and
    ``input`` are the baselines. Raises ValueError naming what is accepted."""
    value = (text or "").strip().lower()
    match = _VERSION.match(value)
    if match and int(match.group(1)) >= 1:
        return RankerRef(version=int(match.group(1)))
    if value in BASELINES:
        return RankerRef(baseline=value)
    raise ValueError(f"unknown ranker {text!r}: use a model version (v7) or one of {', '.join(BASELINES)}")


def baseline_scores(name: str, features: np.ndarray, *, seed: int) -> np.ndarray:
    """Scores of a baseline for the rows of a feature matrix (higher first); a stable sort
    of them gives its order. ``input``: the rows' own order; ``random``: uniform, seeded."""
    rows = features.shape[0]
    if name == "input":
        return -np.arange(rows, dtype=np.float64)
    if name == "random":
        return np.asarray(np.random.default_rng(seed).random(rows), dtype=np.float64)
    feature = BY_NAME[name].feature if name in BASELINES else None
    if feature is None:
        raise ValueError(f"{name!r} is not a baseline ranker")
    return features[:, INDEX[feature]].astype(np.float64)


def unit_key(*, user_id: str, session_id: str, request_id: str) -> str:
    """Who is randomised: the user, else the session, else the request alone."""
    if user_id:
        return f"u:{user_id}"
    return f"s:{session_id}" if session_id else f"r:{request_id}"


def unit_bucket(*, experiment_id: int, unit: str) -> float:
    """The unit's place in [0, 1) for this experiment: the first 8 bytes of
    ``blake2b("<experiment_id>:<unit>")`` over 2^64. Stable across processes and releases."""
    digest = hashlib.blake2b(f"{experiment_id}:{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def in_share(*, experiment_id: int, unit: str, share: float) -> bool:
    """Whether the unit falls in the first ``share`` of the experiment's buckets."""
    return unit_bucket(experiment_id=experiment_id, unit=unit) < share


def request_seed(request_id: str) -> int:
    """A 64-bit seed from a request id, for the coins and shuffles of that one search."""
    return int.from_bytes(hashlib.blake2b(request_id.encode(), digest_size=8).digest(), "big")
