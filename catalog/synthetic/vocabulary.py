"""The vocabulary of the synthetic shop, read from ``vocabulary.toml`` beside this module.

Plain data, kept apart from the generator's maths, and kept as data: two dozen categories of
the same shape are a table, not code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypedDict, cast


class CategorySpec(TypedDict):
    name: str
    nouns: list[str]
    attributes: list[str]
    brands: list[str]
    median_price: float


_DATA = tomllib.loads((Path(__file__).with_name("vocabulary.toml")).read_text(encoding="utf-8"))

CATEGORIES = cast(list[CategorySpec], _DATA["categories"])
MODEL_NAMES: list[str] = _DATA["model_names"]
DESCRIPTION_OPENERS: list[str] = _DATA["description_openers"]
DESCRIPTION_FILLERS: list[str] = _DATA["description_fillers"]
PRICE_WORDS_LOW: list[str] = _DATA["price_words_low"]
PRICE_WORDS_HIGH: list[str] = _DATA["price_words_high"]
