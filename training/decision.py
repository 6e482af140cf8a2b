"""The promotion decision, from an evaluation report and the policy in the settings.

Decided on the ``debiased`` NDCG@10, because it exists for real shops too (the truth
exists only in synthetic data):

* gates, all required: enough evaluation lists with a click to judge on (30 by default: one
  list scores 0 or 1 and says nothing); debiased NDCG@10 above every baseline; click NDCG@10
  and MRR above popularity and random; no metric of the model is missing or NaN;
* with no production model: promote when the gates pass (the first gate is "beats every
  baseline");
* with one: promote when the gates pass and the model beats production by at least the
  relative threshold (5%) with the lower bound of the paired bootstrap interval of the
  difference above 0.

Every decision comes with a reason that names the numbers it rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from ranking.rankers import BASELINES

PROMOTED = "promoted"
REJECTED = "rejected"


@dataclass(frozen=True)
class Policy:
    min_relative_gain: float = 0.05
    min_eval_lists_with_click: int = 30
    gate_baselines: tuple[str, ...] = BASELINES
    click_gate_baselines: tuple[str, ...] = ("popularity", "random")


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    gates: dict

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "gates": self.gates}


class _Gate(NamedTuple):
    name: str
    passed: bool
    failure: str | None  # why it did not pass, where there is something to say


def _value(report: dict, section: str, ranker: str, metric: str) -> float | None:
    entry = (report.get(section) or {}).get(ranker)
    if not entry:
        return None
    value = entry.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def decision_make(*, report: dict, has_production: bool, policy: Policy) -> Decision:
    """Promote or reject the model of ``report`` under ``policy`` (the rules of the module
    docstring): every gate must pass, then, with a production model, the model must beat it.
    The decision names the numbers it rests on and records each gate."""
    model = _model_values(report)
    checked = [
        _enough_eval_lists(report, policy),
        _no_nan(model),
        _debiased_above_baselines(report, model, policy),
        *(_click_above_baselines(report, model, policy, metric) for metric in ("ndcg@10", "mrr")),
    ]
    gates = {gate.name: gate.passed for gate in checked}
    failures = [gate.failure for gate in checked if gate.failure]
    model_debiased = model["debiased ndcg@10"]
    if failures or model_debiased is None:
        return Decision(REJECTED, "gates failed: " + "; ".join(failures), gates)
    if not has_production:
        return Decision(
            PROMOTED,
            f"no production model; debiased NDCG@10 {model_debiased:.4f} beats every baseline "
            f"and the click gates pass",
            gates,
        )
    return _against_production(report, model_debiased, policy, gates)


def _model_values(report: dict) -> dict[str, float | None]:
    return {
        "debiased ndcg@10": _value(report, "debiased", "model", "ndcg@10"),
        "ndcg@10": _value(report, "metrics", "model", "ndcg@10"),
        "mrr": _value(report, "metrics", "model", "mrr"),
        "ctr@10": _value(report, "metrics", "model", "ctr@10"),
    }


def _enough_eval_lists(report: dict, policy: Policy) -> _Gate:
    judged = int((report.get("counts") or {}).get("eval_lists_with_click") or 0)
    enough = judged >= policy.min_eval_lists_with_click
    failure = (
        f"only {judged} evaluation lists with a click (at least {policy.min_eval_lists_with_click} "
        "needed to judge on)"
    )
    return _Gate("enough_eval_lists", enough, None if enough else failure)


def _no_nan(model: dict[str, float | None]) -> _Gate:
    missing = [name for name, value in model.items() if value is None]
    return _Gate(
        "no_nan", not missing, f"model metrics missing or NaN: {', '.join(missing)}" if missing else None
    )


def _debiased_above_baselines(report: dict, model: dict[str, float | None], policy: Policy) -> _Gate:
    model_debiased = model["debiased ndcg@10"]
    beaten = []
    for baseline in policy.gate_baselines:
        value = _value(report, "debiased", baseline, "ndcg@10")
        if value is None:
            continue
        if model_debiased is None or model_debiased <= value:
            beaten.append(f"{baseline} {value:.4f}")
    failure = f"debiased NDCG@10 {_fmt(model_debiased)} not above {', '.join(beaten)}" if beaten else None
    return _Gate("debiased_above_baselines", model_debiased is not None and not beaten, failure)


def _click_above_baselines(
    report: dict, model: dict[str, float | None], policy: Policy, metric: str
) -> _Gate:
    model_value = model[metric]
    below = []
    for baseline in policy.click_gate_baselines:
        value = _value(report, "metrics", baseline, metric)
        if value is not None and (model_value is None or model_value <= value):
            below.append(f"{baseline} {value:.4f}")
    failure = f"click {metric} {_fmt(model_value)} not above {', '.join(below)}" if below else None
    return _Gate(f"click_{metric}_above_popularity_random", model_value is not None and not below, failure)


def _against_production(
    report: dict, model_debiased: float, policy: Policy, gates: dict[str, bool]
) -> Decision:
    """With the gates passed: promote when the model beats production by the relative threshold
    and the paired interval of the difference lies above 0."""
    production = _value(report, "debiased", "production", "ndcg@10")
    interval = ((report.get("intervals") or {}).get("model-production") or {}).get("debiased_ndcg@10")
    if production is None:
        return Decision(
            REJECTED, "a production model exists but could not be evaluated on these lists", gates
        )
    gain = (model_debiased - production) / production if production > 0 else math.inf
    # A gain of exactly the threshold passes: 0.42 over 0.40 is 5% even if floats say 4.9999...
    gates["beats_production_by_threshold"] = gain >= policy.min_relative_gain - 1e-9
    gates["interval_above_zero"] = interval is not None and len(interval) == 2 and float(interval[0]) > 0
    detail = (
        f"debiased NDCG@10 {model_debiased:.4f} vs production {production:.4f} "
        f"({gain:+.1%}, needs {policy.min_relative_gain:+.0%}); paired 95% interval "
        f"{_fmt_interval(interval)}"
    )
    if gates["beats_production_by_threshold"] and gates["interval_above_zero"]:
        return Decision(PROMOTED, f"beats production: {detail}", gates)
    return Decision(REJECTED, f"does not beat production clearly enough: {detail}", gates)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _fmt_interval(interval: list[float] | None) -> str:
    return "n/a" if not interval else f"[{interval[0]:+.4f}, {interval[1]:+.4f}]"
