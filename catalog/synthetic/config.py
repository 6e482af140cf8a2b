"""The knobs of the synthetic shop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from catalog.synthetic.vocabulary import CATEGORIES

MAX_CATEGORIES = len(CATEGORIES)


@dataclass(frozen=True)
class SyntheticConfig:
    products: int = 1000
    categories: int = 10  # at most MAX_CATEGORIES, the vocabulary's
    users: int = 500
    events: int = 50_000  # at least: whole lists are kept until there are as many
    seed: int = 42
    days: int = 56  # the events' time span, from ``start``
    start: datetime = datetime(2026, 9, 7, tzinfo=UTC)
    # The logging policy: lists of list_min to list_max of the query's pool_size BM25
    # candidates; this share of them in random order.
    randomised_share: float = 0.05
    list_min: int = 10
    list_max: int = 20
    pool_size: int = 40
    examination_eta: float = 1.0  # position k is examined with probability (1/k)^eta
    chunk_lists: int = 20_000  # lists made at a time, which bounds the memory used

    def validate(self) -> None:
        if not 1 <= self.categories <= MAX_CATEGORIES:
            raise ValueError(f"categories must be between 1 and {MAX_CATEGORIES}")
        if self.products < self.categories:
            raise ValueError("need at least one product per category")
        if self.users < 1 or self.events < 1 or self.days < 1:
            raise ValueError("users, events and days must be positive")
        if not 1 <= self.list_min <= self.list_max:
            raise ValueError("list_min must be between 1 and list_max")
        if not 0.0 <= self.randomised_share <= 1.0:
            raise ValueError("randomised_share must be between 0 and 1")
