"""What serving does with a search while an experiment runs: which arm it gets, what the answer
is, and what the impression log records of it. Pure Python, no Django.

Per search, serving (``ranking.serving``) does:

1. ``arm = search_arm(live, user_id=..., session_id=..., request_id=...)`` with the running
   experiment (``selectors.experiment_live_get``, polled with the model check). ``None``: the
   search is not in the experiment; the control answers and nothing more is recorded.
2. Score the one feature matrix with the control, and with the challenger where the arm
   needs it (``needs_challenger(arm)``); each order is the candidate ids, best first.
3. ``answer = search_answer(live, arm=..., control=..., challenger=..., request_id=..., limit=...)``:
   ``answer.ids`` is the list to return, ``answer.exposure`` goes to ``impression_log_record``.
   If the challenger could not score (not loaded, or it raised), pass ``challenger=None`` and
   ``challenger_error="<why>"``: the control's order answers and the error is counted.
4. Time step 2's challenger scoring plus step 3 and pass it as ``challenger_seconds``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ranking.experiments.arms import Arm, RankerRef, in_share, request_seed, unit_key
from ranking.experiments.interleaving import team_draft_interleave


@dataclass(frozen=True)
class LiveExperiment:
    """What a web worker needs of the running experiment to route and serve a search."""

    id: int
    kind: str  # "shadow" | "interleaving" | "ab"
    traffic: float
    control: RankerRef
    challenger: RankerRef


class Exposure(NamedTuple):
    """What the impression log records of a search served in an experiment."""

    experiment_id: int
    arm: str
    teams: str = ""  # interleaving: one letter per position, A control, B challenger, = shared
    shadow_ids: list[str] | None = None  # shadow: the challenger's order, as long as the answer
    challenger_seconds: float | None = None  # what the challenger added to the request
    challenger_error: str = ""  # why the challenger did not take part; empty when it did


class Answer(NamedTuple):
    ids: list[str]
    exposure: Exposure


def search_arm(live: LiveExperiment, *, user_id: str, session_id: str, request_id: str) -> Arm | None:
    """The arm of this search, or None when it is outside the experiment's traffic.

    A/B: every search is in; the units in the share get the challenger, the rest the control.
    Interleaving and shadow: the units in the share are interleaved (shadowed), the rest are
    not in the experiment."""
    unit = unit_key(user_id=user_id, session_id=session_id, request_id=request_id)
    chosen = in_share(experiment_id=live.id, unit=unit, share=live.traffic)
    if live.kind == "ab":
        return Arm.CHALLENGER if chosen else Arm.CONTROL
    if not chosen:
        return None
    return Arm.INTERLEAVED if live.kind == "interleaving" else Arm.SHADOW


def needs_challenger(arm: Arm) -> bool:
    """Whether serving must score this search with the challenger."""
    return arm != Arm.CONTROL


def search_answer(
    live: LiveExperiment,
    *,
    arm: Arm,
    control: Sequence[str],
    challenger: Sequence[str] | None,
    request_id: str,
    limit: int | None,
    challenger_seconds: float | None = None,
    challenger_error: str = "",
) -> Answer:
    """The ids to return (cut to ``limit``) and the exposure to log.

    - control arm, or no challenger order: the control's order;
    - challenger arm (A/B): the challenger's order;
    - interleaved: the team draft of both, its coins seeded by the request id;
    - shadow: the control's order, the challenger's recorded beside it (same length)."""
    cut = len(control) if limit is None else limit
    base = Exposure(experiment_id=live.id, arm=arm.value, challenger_seconds=challenger_seconds)
    if challenger is None or arm == Arm.CONTROL:
        error = challenger_error or ("" if arm == Arm.CONTROL else "no challenger order")
        return Answer(list(control[:cut]), base._replace(challenger_error=error, challenger_seconds=None))
    if arm == Arm.CHALLENGER:
        return Answer(list(challenger[:cut]), base)
    if arm == Arm.INTERLEAVED:
        rng = random.Random(request_seed(request_id))
        drafted = team_draft_interleave(control, challenger, rng=rng, length=cut)
        return Answer(drafted.items, base._replace(teams=drafted.teams))
    return Answer(list(control[:cut]), base._replace(shadow_ids=list(challenger[:cut])))
