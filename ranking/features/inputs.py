"""What a feature's value is computed from: the named inputs of each group.

A feature (``ranking.features.contract``) names one input of its group, or gives an
expression over them. The inputs are the stable vocabulary of the feature code:

* ``Behaviour`` (groups *product* and *query x product*): counts of the events before the
  cut-off, per product or per (query, product), and the window's totals (``Window``);
* ``CATALOG_INPUTS``: a product's price, its price relative to its category's median and its
  rating, from the catalog (or from the request for a product the catalog does not know);
* ``TEXT_INPUTS``: text statistics of the query against one product's fields;
* ``USER_INPUTS``: what is known of the user, compared with one product.

An input that cannot be known for a row is NaN, and a feature whose value is NaN takes its
contract default: that one rule gives every unknown product, query and user its defaults.
Pure numpy and pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

TEXT_FIELDS = ("title", "description", "brand", "category")
# BM25 against each field and the whole product document, TF-IDF cosine against each field.
TEXT_WEIGHTS = (*(f"bm25_{name}" for name in (*TEXT_FIELDS, "all")), *(f"cos_{name}" for name in TEXT_FIELDS))
TEXT_INPUTS = (*TEXT_WEIGHTS, "exact_title", "coverage", "title_coverage", "num_terms")
CATALOG_INPUTS = ("price", "rel_price", "rating")
USER_INPUTS = ("category_lift", "band_lift", "rel_price", "price_mean", "engagement")

# Behaviour counts, by the event type they count.
COUNTS = {"impression": "impressions", "click": "clicks", "add_to_cart": "carts", "purchase": "purchases"}
ENGAGEMENT_WEIGHTS = {"click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}
DAY = pd.Timedelta(days=1)


class ProductAttributes(NamedTuple):
    """A product's catalog attributes: from the catalog, or from a request (cold start). A
    named tuple: built for every cold candidate of a request and a cache key, and a tuple is
    the cheapest to build and to hash."""

    title: str
    price: float
    category: str = ""
    description: str = ""
    brand: str = ""
    rating: float | None = None


@dataclass(frozen=True)
class Window:
    """Totals of the events before the cut-off: what behaviour is measured against."""

    until: pd.Timestamp
    impressions: float  # at least 1, so a share never divides by zero
    engagement: float  # clicks + 2 carts + 3 purchases, at least 1
    ctr: float  # clicks per impression; 0 without impressions
    atc: float
    purchase: float


@dataclass(frozen=True)
class Behaviour:
    """Counts per product or per (query, product), aligned Series (one row each)."""

    impressions: pd.Series
    clicks: pd.Series
    carts: pd.Series
    purchases: pd.Series
    position_sum: pd.Series
    window: Window
    first_impression: pd.Series | None = None  # product rows only
    last_event: pd.Series | None = None

    @property
    def engagement(self) -> pd.Series:
        weights = ENGAGEMENT_WEIGHTS
        return (
            self.clicks * weights["click"]
            + self.carts * weights["add_to_cart"]
            + self.purchases * (weights["purchase"])
        )


class Columns:
    """Named columns of a 2-D array: ``inputs.price`` is ``values[:, index of "price"]``."""

    def __init__(self, names: tuple[str, ...], values: np.ndarray):
        self._index = {name: i for i, name in enumerate(names)}
        self.values = values

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.values[:, self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


def lift(events: pd.Series, impressions: pd.Series, rate: float, prior: float) -> pd.Series:
    """A rate smoothed toward ``rate`` with ``prior`` pseudo-impressions, over ``rate``: 1.0 is
    average, and a product with no history sits at 1.0."""
    if rate <= 0:
        return pd.Series(1.0, index=events.index)
    return ((events + prior * rate) / (impressions + prior)) / rate


def days_before(until: pd.Timestamp, times: pd.Series | None) -> pd.Series | float:
    """Days from each time to the cut-off, at least 0 (NaN where there is no time)."""
    if times is None:
        return np.nan
    return ((until - pd.to_datetime(times, utc=True)) / DAY).clip(lower=0.0)
