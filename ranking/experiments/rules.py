"""What becomes of the running experiment, decided from its report: pure functions, no database.

In this order, each evaluation (``experiments_decide``, every few minutes):

1. **Guardrails**, every kind, from the first searches on: the challenger's error rate above
   its budget, or the mean time it adds above its budget (each judged after
   ``GUARDRAIL_MIN_SEARCHES`` searches with the challenger); for A/B also the challenger
   significantly worse on CTR or on purchase rate under the always-valid mixture SPRT, at
   ``alpha / 2`` each (two metrics watched: Bonferroni keeps the pair at ``alpha``). → stop.
2. Nothing more before ``min_searches`` searches.
3. **Interleaving**, on clicks, with the always-valid p-value of the mixture sign test:
   - *a watch* (the new production as control, the version it replaced as challenger): the
     replaced version significantly preferred → roll back; the watch's searches done → keep;
   - *a model version against production*: significantly preferred with a preference of at
     least ``min_preference`` → promote; significantly not preferred → reject; at
     ``max_searches`` or ``max_days`` without either: a promotion gate applies its
     ``inconclusive`` rule (``offline``: the offline decision, promote, stands; ``reject``),
     an experiment a person started concludes and changes nothing;
   - *anything else* (a baseline on one side): concludes when significant either way, or at
     the end.
4. **A/B**: the next canary stage once the current one has held its guardrails for
   ``stage_searches`` searches; concludes at the end (A/B guards, it does not promote).
5. **Shadow**: concludes at the end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

GUARDRAIL_MIN_SEARCHES = 20
"""A guardrail on errors or time judges after this many searches with the challenger, so one
slow first request (a cold cache) does not stop an experiment."""

GUARDED_RATES = ("ctr", "purchase_rate")
"""The A/B rates whose significant drop stops the challenger (names of the report's rates)."""


@dataclass(frozen=True)
class Rules:
    """What an experiment is judged by; copied onto it (``guardrails``) when it is created,
    so changing the settings never changes the meaning of an experiment already running."""

    alpha: float = 0.05
    min_preference: float = 0.02
    max_error_rate: float = 0.01
    max_added_ms: float = 5.0
    stage_searches: int = 1_000
    inconclusive: str = "offline"  # what a promotion gate's end without a result means: "offline" | "reject"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: Any) -> Rules:
        """The rules stored on an experiment; a missing key takes today's default."""
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (stored or {}).items() if k in known})


class Action(StrEnum):
    CONTINUE = "continue"
    GUARDRAIL = "guardrail"
    PROMOTE = "promote"
    REJECT = "reject"
    ROLLBACK = "rollback"
    KEEP = "keep"
    CONCLUDE = "conclude"
    ADVANCE = "advance"


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str


@dataclass(frozen=True)
class Situation:
    """What the rules need besides the report."""

    interleaving: bool
    ab: bool
    watch: bool  # the watch after a promotion
    gate: bool  # a candidate's online promotion gate (the pipeline's)
    promotable: bool  # a model version challenging the production version
    min_searches: int
    max_searches: int | None
    max_days: float | None
    stages: tuple[float, ...] = ()
    stage: int = 0
    stage_searches: int = 0  # searches served since the current stage began


def verdict_get(report: dict[str, Any], situation: Situation, rules: Rules) -> Verdict:
    """The one thing to do now, with the reason and its numbers."""
    guardrail = guardrail_check(report, rules, ab=situation.ab)
    if guardrail is not None:
        return guardrail
    searches = int(report.get("searches") or 0)
    if searches < situation.min_searches:
        return Verdict(Action.CONTINUE, f"{searches} of at least {situation.min_searches} searches")
    ended = _end_reached(report, situation)
    if situation.interleaving:
        return _interleaving(report["interleaving"]["click"], situation, rules, ended)
    if situation.ab:
        last_stage = len(situation.stages) - 1
        if (
            ended is None
            and situation.stage < last_stage
            and situation.stage_searches >= rules.stage_searches
        ):
            share = situation.stages[situation.stage + 1]
            return Verdict(
                Action.ADVANCE,
                f"guardrails held for {situation.stage_searches} searches at {situation.stages[situation.stage]:.0%}; "
                f"the challenger now gets {share:.0%}",
            )
    if ended is not None:
        return Verdict(Action.CONCLUDE, ended)
    return Verdict(Action.CONTINUE, f"{searches} searches, no decision yet")


def guardrail_check(report: dict[str, Any], rules: Rules, *, ab: bool) -> Verdict | None:
    """The first guardrail the challenger broke, or None."""
    served = int(report.get("challenger_searches") or 0)
    errors = int(report.get("challenger_errors") or 0)
    if served >= GUARDRAIL_MIN_SEARCHES and errors / served > rules.max_error_rate:
        return Verdict(
            Action.GUARDRAIL,
            f"the challenger failed in {errors} of {served} searches ({errors / served:.1%}; "
            f"budget {rules.max_error_rate:.1%})",
        )
    added, timed = report.get("added_ms_mean"), int(report.get("timed_searches") or 0)
    if added is not None and timed >= GUARDRAIL_MIN_SEARCHES and added > rules.max_added_ms:
        return Verdict(
            Action.GUARDRAIL,
            f"the challenger added {added:.2f} ms per search on average over {timed} searches "
            f"(budget {rules.max_added_ms:g} ms)",
        )
    if not ab:
        return None
    level = rules.alpha / len(GUARDED_RATES)
    for rate in GUARDED_RATES:
        entry = report["ab"]["differences"][rate]
        p, difference = entry.get("sequential_p"), entry.get("difference")
        if p is not None and difference is not None and difference < 0 and p < level:
            control, challenger = (report["ab"]["arms"][arm][rate] for arm in ("control", "challenger"))
            low, high = entry["interval"]
            return Verdict(
                Action.GUARDRAIL,
                f"the challenger's {rate} is significantly lower: {challenger:.4f} vs {control:.4f} "
                f"({difference:+.4f}, 95% [{low:+.4f}, {high:+.4f}]); always-valid p {p:.4g} < {level:g}",
            )
    return None


def number_text(value: float | None, *, signed: bool = False, digits: int = 4) -> str:
    """A report's number as text; a dash where the report has none."""
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def interval_text(interval: Any, *, digits: int = 4) -> str:
    """A report's ``[low, high]`` as text; a dash where it has none."""
    if not interval or interval[0] is None or interval[1] is None:
        return "–"
    return f"[{interval[0]:+.{digits}f}, {interval[1]:+.{digits}f}]"


def preference_text(entry: dict[str, Any]) -> str:
    """The numbers of an interleaving preference in one line, for reasons and reports."""
    interval = interval_text(entry.get("interval"), digits=3)
    preference = number_text(entry.get("preference"), signed=True, digits=3)
    return (
        f"preference {preference} (95% {interval}) over "
        f"{entry['searches_with_click']} searches with a click: {entry['wins']} wins, {entry['losses']} losses, "
        f"{entry['ties']} ties; always-valid p {entry['sequential_p']:.4g}, sign test p {entry['sign_test_p']:.4g}"
    )


def _interleaving(entry: dict[str, Any], situation: Situation, rules: Rules, ended: str | None) -> Verdict:
    significant = entry["sequential_p"] < rules.alpha
    preference = entry.get("preference") or 0.0
    numbers = preference_text(entry)
    if situation.watch:
        if significant and preference > 0:
            return Verdict(Action.ROLLBACK, f"the replaced version is preferred to production: {numbers}")
        if ended is not None:
            return Verdict(Action.KEEP, f"production held its watch ({ended}): {numbers}")
        return Verdict(Action.CONTINUE, numbers)
    if situation.promotable:
        if significant and preference >= rules.min_preference:
            return Verdict(Action.PROMOTE, f"users prefer the challenger: {numbers}")
        if significant and preference < 0:
            return Verdict(Action.REJECT, f"users prefer production: {numbers}")
        if ended is None:
            return Verdict(Action.CONTINUE, numbers)
        if not situation.gate:
            return Verdict(Action.CONCLUDE, f"no significant preference ({ended}): {numbers}")
        if rules.inconclusive == "reject":
            return Verdict(
                Action.REJECT,
                f"no significant preference ({ended}), and inconclusive means reject: {numbers}",
            )
        return Verdict(
            Action.PROMOTE, f"no significant preference ({ended}); the offline decision stands: {numbers}"
        )
    if significant:
        better = "the challenger" if preference > 0 else "the control"
        return Verdict(Action.CONCLUDE, f"users prefer {better}: {numbers}")
    if ended is not None:
        return Verdict(Action.CONCLUDE, f"no significant preference ({ended}): {numbers}")
    return Verdict(Action.CONTINUE, numbers)


def _end_reached(report: dict[str, Any], situation: Situation) -> str | None:
    searches = int(report.get("searches") or 0)
    if situation.max_searches is not None and searches >= situation.max_searches:
        return f"{searches} of {situation.max_searches} searches"
    days = float(report.get("days") or 0.0)
    if situation.max_days is not None and days >= situation.max_days:
        return f"{days:.1f} of {situation.max_days:g} days"
    return None
