"""Every ranker a model is judged against, declared once.

The evaluation scores each of them on the same lists, the decision gates on the baselines,
the control room shows them beside the model, and the reports name them. Baselines need no
training: ``bm25`` and ``popularity`` order by one feature of the contract (so serving can
use them too), ``logging`` keeps the order the shop showed, ``random`` shuffles, and
``oracle`` orders by the true relevance (synthetic data only: a ceiling, not a contender).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    MODEL = "model"  # the candidate being judged
    PRODUCTION = "production"  # the model it would replace
    BASELINE = "baseline"  # what any model must beat
    CEILING = "ceiling"  # the best order possible, where the data knows it


@dataclass(frozen=True)
class Ranker:
    name: str
    role: Role
    description: str
    feature: str | None = None  # orders by this feature of the matrix, highest first


RANKERS: tuple[Ranker, ...] = (
    Ranker("model", Role.MODEL, "the model being evaluated"),
    Ranker("production", Role.PRODUCTION, "the production model, on the same lists"),
    Ranker("bm25", Role.BASELINE, "BM25 of the query against the whole product text", feature="t_bm25_all"),
    Ranker(
        "popularity",
        Role.BASELINE,
        "the product's engagement share before the cut-off",
        feature="p_popularity",
    ),
    Ranker("logging", Role.BASELINE, "the order the shop showed (its own search)"),
    Ranker("random", Role.BASELINE, "a random order (seeded)"),
    Ranker("oracle", Role.CEILING, "the true relevance (synthetic data only)"),
)
RANKER_NAMES = tuple(r.name for r in RANKERS)
BASELINES = tuple(r.name for r in RANKERS if r.role == Role.BASELINE)
# Everything the model is compared with, in the order reports and pages list them.
COMPARED = tuple(r.name for r in RANKERS if r.role != Role.MODEL)
BY_NAME = {r.name: r for r in RANKERS}
# The baselines an online experiment can put on either side (``ranking.experiments``): those
# that need nothing but the request, with ``logging`` called ``input`` there (the order the
# shop sent the candidates in).
ONLINE_BASELINES = ("bm25", "popularity", "random", "input")
