"""The experiment settings (``SEARCHOP_EXPERIMENTS``), read and checked in one place. The
part an experiment keeps for life (``rules.Rules``) is copied onto it when it is created."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ranking.experiments.rules import Rules

ONLINE = "online"
"""The pipeline's decision for a candidate that passed the offline gates and waits for (or is
in) its online gate, an interleaving experiment against production."""

PROMOTION_MODES = ("online", "offline")
INCONCLUSIVE_MODES = ("offline", "reject")


@dataclass(frozen=True)
class Policy:
    promotion: str
    min_searches: int
    max_searches: int
    max_days: float
    online_traffic: float
    watch_searches: int
    watch_traffic: float
    rules: Rules


def policy_get() -> Policy:
    """``SEARCHOP_EXPERIMENTS`` as a checked Policy; ImproperlyConfigured names a bad value."""
    raw = settings.SEARCHOP_EXPERIMENTS
    _choice("SEARCHOP_PROMOTION", raw["promotion"], PROMOTION_MODES)
    _choice("SEARCHOP_ONLINE_INCONCLUSIVE", raw["inconclusive"], INCONCLUSIVE_MODES)
    for name, key in (
        ("SEARCHOP_ONLINE_TRAFFIC", "online_traffic"),
        ("SEARCHOP_WATCH_TRAFFIC", "watch_traffic"),
        ("SEARCHOP_EXPERIMENT_ALPHA", "alpha"),
    ):
        if not 0 < float(raw[key]) <= 1:
            raise ImproperlyConfigured(f"{name} must be in (0, 1], got {raw[key]!r}")
    return Policy(
        promotion=raw["promotion"],
        min_searches=int(raw["min_searches"]),
        max_searches=int(raw["max_searches"]),
        max_days=float(raw["max_days"]),
        online_traffic=float(raw["online_traffic"]),
        watch_searches=int(raw["watch_searches"]),
        watch_traffic=float(raw["watch_traffic"]),
        rules=Rules(
            alpha=float(raw["alpha"]),
            min_preference=float(raw["min_preference"]),
            max_error_rate=float(raw["max_error_rate"]),
            max_added_ms=float(raw["max_added_ms"]),
            stage_searches=int(raw["stage_searches"]),
            inconclusive=raw["inconclusive"],
        ),
    )


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
