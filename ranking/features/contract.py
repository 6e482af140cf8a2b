"""The feature contract: every feature of the model, declared once.

Each ``Feature`` says its name, its group (what its value is keyed by and where it comes
from), where its value comes from (one named input of the group, or an expression over
the group's inputs, see ``ranking.features.inputs``), its default and its kind. Everything
else is derived from this one declaration: the matrix's columns and their order, each
group's positions in it, the stored tables' feature columns, the defaults row.

A default is the value a feature takes when its input is missing (a product never shown
before the cut-off, an unknown user, a product the catalog does not know). Behavioural
rates are stored as *lifts* over the global rate of their window (1.0 = average), so their
scale stays put as the shop's traffic grows, and their default is a constant. Every feature
set reads the same length of history (``SEARCHOP_WINDOWS["history_days"]``).

The contract is saved with every model version; serving refuses a model whose contract
this code cannot build. Bump ``CONTRACT_VERSION`` whenever a name, the order, a default or
a definition changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np

from ranking.features.inputs import (
    CATALOG_INPUTS,
    TEXT_INPUTS,
    USER_INPUTS,
    Behaviour,
    days_before,
    lift,
)

CONTRACT_VERSION = "2"  # 2: every set reads a fixed history; p_age_days capped at AGE_CAP_DAYS
UNRATED = -1.0
SHARE_SCALE = 1e5
PRIOR_IMPRESSIONS = 20.0  # pseudo-impressions at the global rate, per product and per (query, product)
# How new a product is, up to a week: past it, an age within a fixed-length history says only
# how soon after the history's start the product was first shown (the time of day of the
# cut-off), which would differ between training and serving on unchanged traffic.
AGE_CAP_DAYS = 7.0


class Group(StrEnum):
    PRODUCT = "product"  # the product's behaviour before the cut-off; stored per feature set
    CATALOG = "catalog"  # the product's attributes: the catalog, or the request for an unknown product
    QUERY_PRODUCT = "query_product"  # behaviour of the product for this query; stored per feature set
    TEXT = "text"  # the query's text against the product's, per request
    USER = "user"  # the user's engagement before the cut-off against this product, per request

    @property
    def stored(self) -> bool:
        """Computed from events by ``features_build`` and written to the feature store."""
        return self in (Group.PRODUCT, Group.QUERY_PRODUCT)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The named inputs a feature of a per-row group may take as its value."""
        return {Group.CATALOG: CATALOG_INPUTS, Group.TEXT: TEXT_INPUTS, Group.USER: USER_INPUTS}.get(self, ())


class Kind(StrEnum):
    REAL = "real"
    COUNT = "count"  # a whole number (or a log of one)
    BINARY = "binary"  # 0 or 1


Value = str | Callable[[Any], Any]


@dataclass(frozen=True)
class Feature:
    name: str
    group: Group
    default: float
    description: str
    value: Value  # an input of the group by name, or an expression over the group's inputs
    kind: Kind = Kind.REAL

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group.value,
            "default": self.default,
            "kind": self.kind.value,
            "description": self.description,
        }


def _rate(name: str, prior: float = PRIOR_IMPRESSIONS) -> Callable[[Behaviour], Any]:
    """A smoothed lift of clicks, carts or purchases per impression."""
    return lambda b: lift(getattr(b, name), b.impressions, getattr(b.window, _RATES[name]), prior)


_RATES = {"clicks": "ctr", "carts": "atc", "purchases": "purchase"}

P, C, QP, T, U = Group.PRODUCT, Group.CATALOG, Group.QUERY_PRODUCT, Group.TEXT, Group.USER
FEATURES: tuple[Feature, ...] = (
    # Product behaviour, from events before the cut-off.
    Feature("p_impression_share", P, 0.0, "log1p(1e5 x the product's share of all impressions)",
            lambda b: np.log1p(SHARE_SCALE * b.impressions / b.window.impressions)),
    Feature("p_ctr_lift", P, 1.0, "clicks / impressions, smoothed toward the global CTR, over it", _rate("clicks")),
    Feature("p_atc_lift", P, 1.0, "add-to-carts / impressions, smoothed, over the global rate", _rate("carts")),
    Feature("p_purchase_lift", P, 1.0, "purchases / impressions, smoothed, over the global rate", _rate("purchases")),
    Feature("p_popularity", P, 0.0, "log1p(1e5 x share of engagement: clicks + 2 carts + 3 purchases)",
            lambda b: np.log1p(SHARE_SCALE * b.engagement / b.window.engagement)),
    Feature("p_recency_days", P, 365.0, "days from the last event of the product to the cut-off",
            lambda b: days_before(b.window.until, b.last_event)),
    Feature("p_age_days", P, 0.0, "days from the product's first impression to the cut-off, at most 7",
            lambda b: np.minimum(days_before(b.window.until, b.first_impression), AGE_CAP_DAYS)),
    # Product attributes, from the catalog (or the request for an unknown product).
    Feature("p_log_price", C, 0.0, "log1p(price)", lambda c: np.log1p(np.clip(c.price, 0.0, None))),
    Feature("p_price_rel_category", C, 0.0, "log(price / the category's median price)", "rel_price"),
    Feature("p_rating", C, UNRATED, "rating 0-5; -1 when unrated", "rating"),
    # Query x product behaviour, from events before the cut-off.
    Feature("qp_impressions", QP, 0.0, "log1p(times shown for this query)",
            lambda b: np.log1p(b.impressions), Kind.COUNT),
    Feature("qp_ctr_lift", QP, 1.0, "query-specific CTR, smoothed, over the global CTR", _rate("clicks")),
    Feature("qp_atc_lift", QP, 1.0, "query-specific add-to-cart rate, smoothed, over global", _rate("carts")),
    Feature("qp_purchase_lift", QP, 1.0, "query-specific purchase rate, smoothed, over global", _rate("purchases")),
    Feature("qp_avg_position", QP, 0.0, "average position shown for this query; 0 never shown",
            lambda b: np.where(b.impressions > 0, b.position_sum / b.impressions.clip(lower=1), 0.0)),
    # Text relevance of the query against the product, per request.
    Feature("t_bm25_title", T, 0.0, "BM25 of the query against the title", "bm25_title"),
    Feature("t_bm25_description", T, 0.0, "BM25 against the description", "bm25_description"),
    Feature("t_bm25_brand", T, 0.0, "BM25 against the brand", "bm25_brand"),
    Feature("t_bm25_category", T, 0.0, "BM25 against the category", "bm25_category"),
    Feature("t_bm25_all", T, 0.0, "BM25 against title + brand + category + description (the BM25 baseline)",
            "bm25_all"),
    Feature("t_cos_title", T, 0.0, "TF-IDF cosine against the title", "cos_title"),
    Feature("t_cos_description", T, 0.0, "TF-IDF cosine against the description", "cos_description"),
    Feature("t_cos_brand", T, 0.0, "TF-IDF cosine against the brand", "cos_brand"),
    Feature("t_cos_category", T, 0.0, "TF-IDF cosine against the category", "cos_category"),
    Feature("t_exact_title", T, 0.0, "1 when the whole normalised query occurs in the title", "exact_title",
            Kind.BINARY),
    Feature("t_coverage", T, 0.0, "share of the query's terms found in any field", "coverage"),
    Feature("t_title_coverage", T, 0.0, "share of the query's terms found in the title", "title_coverage"),
    Feature("q_num_terms", T, 0.0, "number of terms in the query", "num_terms", Kind.COUNT),
    # User x product, from the user's engagement before the cut-off.
    Feature("u_category_lift", U, 1.0,
            "user's smoothed engagement share in the product's category over its global share", "category_lift"),
    Feature("u_price_band_lift", U, 1.0,
            "user's smoothed engagement share in the product's price band over 1/bands", "band_lift"),
    Feature("u_price_gap", U, 0.0, "|price relative to category - the user's smoothed mean of it|",
            lambda u: np.abs(u.rel_price - u.price_mean)),
    Feature("u_engagement", U, 0.0, "log1p(the user's engagement events)", lambda u: np.log1p(u.engagement)),
)  # fmt: skip


@dataclass(frozen=True)
class GroupPlan:
    """How one group's features fill the matrix: their columns (a slice when contiguous),
    the inputs copied as they are, and the expressions computed."""

    features: tuple[Feature, ...]
    columns: slice | np.ndarray
    defaults: np.ndarray
    direct: np.ndarray  # positions within the group whose value is an input, as it is
    direct_inputs: np.ndarray  # ... and the index of that input
    computed: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position within the group, expression)

    def evaluate(self, inputs: Any, rows: int) -> np.ndarray:
        """The group's values for ``rows`` rows of ``inputs`` (``Columns`` or ``Behaviour``), in
        contract order; a value that cannot be computed (NaN) is the feature's default."""
        block = np.empty((rows, len(self.features)), dtype=np.float64)
        if len(self.direct):
            block[:, self.direct] = inputs.values[:, self.direct_inputs]
        for j, expression in self.computed:
            block[:, j] = expression(inputs)
        missing = np.isnan(block)
        if missing.any():
            block[missing] = np.broadcast_to(self.defaults, block.shape)[missing]
        return block


@dataclass(frozen=True)
class Contract:
    version: str
    features: tuple[Feature, ...]

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        for f in self.features:
            if not callable(f.value) and f.value not in f.group.inputs:
                raise ValueError(
                    f"{f.name}: {f.value!r} is not an input of group {f.group}: {f.group.inputs}"
                )

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @cached_property
    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def defaults(self) -> tuple[float, ...]:
        return tuple(f.default for f in self.features)

    def of(self, *groups: Group) -> tuple[Feature, ...]:
        """The features of ``groups``, in contract order."""
        return tuple(f for f in self.features if f.group in groups)

    def names_of(self, *groups: Group) -> list[str]:
        return [f.name for f in self.of(*groups)]

    def plan(self, *groups: Group) -> GroupPlan:
        return self._plans[groups]

    @cached_property
    def _plans(self) -> _Plans:
        return _Plans(self)

    def as_dict(self) -> dict[str, Any]:
        """The contract as saved with a model version."""
        return {"version": self.version, "features": [f.as_dict() for f in self.features]}

    def matches(self, saved: dict | None) -> bool:
        """Whether a saved contract can be built by this code (same names, order and defaults)."""
        if not saved or saved.get("version") != self.version:
            return False
        saved_features = saved.get("features") or []
        return [(f["name"], float(f["default"])) for f in saved_features] == [
            (f.name, f.default) for f in self.features
        ]


class _Plans(dict):
    """Group plans built on first use, one per tuple of groups."""

    def __init__(self, contract: Contract):
        super().__init__()
        self.contract = contract

    def __missing__(self, groups: tuple[Group, ...]) -> GroupPlan:
        features = self.contract.of(*groups)
        positions = [self.contract.index[f.name] for f in features]
        contiguous = positions == list(range(positions[0], positions[-1] + 1)) if positions else True
        inputs = {name: i for i, name in enumerate(groups[0].inputs)} if len(groups) == 1 else {}
        direct = [j for j, f in enumerate(features) if isinstance(f.value, str) and f.value in inputs]
        plan = GroupPlan(
            features=features,
            columns=slice(positions[0], positions[-1] + 1)
            if positions and contiguous
            else np.array(positions),
            defaults=np.array([f.default for f in features], dtype=np.float64),
            direct=np.array(direct, dtype=np.int64),
            direct_inputs=np.array([inputs[str(features[j].value)] for j in direct], dtype=np.int64),
            computed=tuple(
                (j, f.value) for j, f in enumerate(features) if j not in direct and callable(f.value)
            ),
        )
        self[groups] = plan
        return plan


CONTRACT = Contract(version=CONTRACT_VERSION, features=FEATURES)
# Shorthands of the contract this code builds.
NAMES = CONTRACT.names
INDEX = CONTRACT.index
DEFAULTS = CONTRACT.defaults
