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


def _value(report: dict, section: str, ranker: str, metric: str) -> float | None:
    entry = (report.get(section) or {}).get(ranker)
    if not entry:
        return None
    value = entry.get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def decision_make(*, report: dict, has_production: bool, policy: Policy) -> Decision:
    failures: list[str] = []
    gates: dict[str, bool] = {}

    judged = int((report.get("counts") or {}).get("eval_lists_with_click") or 0)
    gates["enough_eval_lists"] = judged >= policy.min_eval_lists_with_click
    if not gates["enough_eval_lists"]:
        failures.append(
            f"only {judged} evaluation lists with a click (at least {policy.min_eval_lists_with_click} "
            "needed to judge on)"
        )

    model_values = {
        "debiased ndcg@10": _value(report, "debiased", "model", "ndcg@10"),
        "ndcg@10": _value(report, "metrics", "model", "ndcg@10"),
        "mrr": _value(report, "metrics", "model", "mrr"),
        "ctr@10": _value(report, "metrics", "model", "ctr@10"),
    }
    missing = [name for name, value in model_values.items() if value is None]
    gates["no_nan"] = not missing
    if missing:
        failures.append(f"model metrics missing or NaN: {', '.join(missing)}")

    model_debiased = model_values["debiased ndcg@10"]
    beaten = []
    for baseline in policy.gate_baselines:
        value = _value(report, "debiased", baseline, "ndcg@10")
        if value is None:
            continue
        if model_debiased is None or model_debiased <= value:
            beaten.append(f"{baseline} {value:.4f}")
    gates["debiased_above_baselines"] = model_debiased is not None and not beaten
    if beaten:
        failures.append(f"debiased NDCG@10 {_fmt(model_debiased)} not above {', '.join(beaten)}")

    for metric in ("ndcg@10", "mrr"):
        below = []
        for baseline in policy.click_gate_baselines:
            value = _value(report, "metrics", baseline, metric)
            model_value = model_values[metric]
            if value is not None and (model_value is None or model_value <= value):
                below.append(f"{baseline} {value:.4f}")
        gates[f"click_{metric}_above_popularity_random"] = model_values[metric] is not None and not below
        if below:
            failures.append(f"click {metric} {_fmt(model_values[metric])} not above {', '.join(below)}")

    if failures or model_debiased is None:
        return Decision(REJECTED, "gates failed: " + "; ".join(failures), gates)

    if not has_production:
        return Decision(
            PROMOTED,
            f"no production model; debiased NDCG@10 {model_debiased:.4f} beats every baseline "
            f"and the click gates pass",
            gates,
        )

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
