"""How shoppers go through a list: a position-based click model and the funnel after a click.

The shopper examines position ``k`` with probability ``(1/k)^eta``, clicks an examined product
with a probability that grows with its true relevance (an irrelevant one about 5% of the
time), and a click goes on to the cart, and the cart to a purchase, at relevance-dependent
rates. Pure numpy: the generator applies it to its lists, and a simulator of shoppers to any
list a ranker returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# By true relevance grade 0..3.
ATTRACTION = np.array([0.05, 0.14, 0.28, 0.50])
CART_GIVEN_CLICK = np.array([0.03, 0.12, 0.25, 0.40])
PURCHASE_GIVEN_CART = np.array([0.15, 0.30, 0.45, 0.60])


@dataclass(frozen=True)
class Funnel:
    """Per shown product (same shape as the relevances): what the shopper did with it."""

    examined: np.ndarray
    clicked: np.ndarray
    carted: np.ndarray
    purchased: np.ndarray


def funnel_simulate(
    relevance: np.ndarray, *, eta: float, rng: np.random.Generator, shown: np.ndarray | None = None
) -> Funnel:
    """Apply the click model to relevance grades (0-3) in the order shown: the last axis is
    the position, from 1, so one list or a matrix of lists (one per row). ``shown`` masks
    positions past a list's end (default: all shown)."""
    positions = np.arange(1, relevance.shape[-1] + 1)
    if shown is None:
        shown = np.ones(relevance.shape, dtype=bool)
    examined = shown & (rng.random(relevance.shape) < (1.0 / positions) ** eta)
    clicked = examined & (rng.random(relevance.shape) < ATTRACTION[relevance])
    carted = clicked & (rng.random(relevance.shape) < CART_GIVEN_CLICK[relevance])
    purchased = carted & (rng.random(relevance.shape) < PURCHASE_GIVEN_CART[relevance])
    return Funnel(examined=examined, clicked=clicked, carted=carted, purchased=purchased)
