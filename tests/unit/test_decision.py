"""The promotion policy (``training.decision.decision_make``), branch by branch: the gates,
the first model, a model against production, and missing or NaN metrics."""

from __future__ import annotations

import math

import pytest

from training.decision import PROMOTED, REJECTED, Policy, decision_make

POLICY = Policy(min_relative_gain=0.05)


def report(
    *,
    debiased: float | None = 0.40,
    ndcg: float | None = 0.50,
    mrr: float | None = 0.45,
    ctr: float | None = 0.80,
    production: float | None = None,
    interval: list[float] | None = None,
    lists_with_click: int = 485,
    **baseline_debiased: float,
) -> dict:
    """A report where the model beats every baseline unless told otherwise."""
    debiased_baselines = {
        "bm25": 0.35,
        "popularity": 0.34,
        "logging": 0.33,
        "random": 0.30,
        **baseline_debiased,
    }
    out: dict = {
        "metrics": {
            "model": {"ndcg@10": ndcg, "mrr": mrr, "ctr@10": ctr},
            "production": None,
            "bm25": {"ndcg@10": 0.49, "mrr": 0.44, "ctr@10": 0.82},
            "popularity": {"ndcg@10": 0.40, "mrr": 0.32, "ctr@10": 0.74},
            "logging": {"ndcg@10": 0.63, "mrr": 0.60, "ctr@10": 0.91},
            "random": {"ndcg@10": 0.34, "mrr": 0.27, "ctr@10": 0.69},
            "oracle": {"ndcg@10": 0.46, "mrr": 0.39, "ctr@10": 0.80},
        },
        "debiased": {
            "model": {"ndcg@10": debiased},
            "production": None,
            "oracle": {"ndcg@10": 0.48},
            **{name: {"ndcg@10": value} for name, value in debiased_baselines.items()},
        },
        "intervals": {},
        "counts": {"eval_lists": 770, "eval_lists_with_click": lists_with_click},
    }
    if production is not None:
        out["metrics"]["production"] = {"ndcg@10": 0.45, "mrr": 0.40, "ctr@10": 0.80}
        out["debiased"]["production"] = {"ndcg@10": production}
        out["intervals"]["model-production"] = {"debiased_ndcg@10": interval}
    return out


# --- the first model -----------------------------------------------------------------------


def test_the_first_model_is_promoted_when_it_beats_every_baseline_and_the_gates_pass():
    decision = decision_make(report=report(), has_production=False, policy=POLICY)
    assert decision.action == PROMOTED
    assert "no production model" in decision.reason
    assert "0.4000" in decision.reason
    assert all(decision.gates.values())


def test_the_first_model_is_rejected_when_a_baseline_has_a_higher_debiased_ndcg():
    decision = decision_make(report=report(logging=0.41), has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert decision.gates["debiased_above_baselines"] is False
    assert "debiased NDCG@10 0.4000 not above logging 0.4100" in decision.reason


def test_a_model_judged_on_too_few_lists_with_a_click_is_rejected_however_good_its_numbers():
    decision = decision_make(
        report=report(debiased=1.0, lists_with_click=1), has_production=False, policy=POLICY
    )
    assert decision.action == REJECTED
    assert decision.gates["enough_eval_lists"] is False
    assert "only 1 evaluation lists with a click (at least 30 needed to judge on)" in decision.reason


def test_the_minimum_of_lists_with_a_click_comes_from_the_policy():
    strict = Policy(min_relative_gain=0.05, min_eval_lists_with_click=500)
    assert (
        decision_make(report=report(lists_with_click=485), has_production=False, policy=strict).action
        == REJECTED
    )
    assert (
        decision_make(report=report(lists_with_click=30), has_production=False, policy=POLICY).action
        == PROMOTED
    )


def test_a_tie_with_a_baseline_is_not_beating_it():
    decision = decision_make(report=report(bm25=0.40), has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert "bm25 0.4000" in decision.reason


def test_the_model_is_rejected_when_its_click_ndcg_is_not_above_popularity():
    decision = decision_make(report=report(ndcg=0.39), has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert decision.gates["click_ndcg@10_above_popularity_random"] is False
    assert "click ndcg@10 0.3900 not above popularity 0.4000" in decision.reason


def test_the_model_is_rejected_when_its_mrr_is_not_above_random():
    decision = decision_make(report=report(mrr=0.25), has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert decision.gates["click_mrr_above_popularity_random"] is False
    assert "click mrr 0.2500 not above popularity 0.3200, random 0.2700" in decision.reason


def test_the_click_gates_ignore_bm25_and_logging():
    # Raw clicks reward the logged order: beating logging on them is not asked for.
    decision = decision_make(report=report(ndcg=0.41, mrr=0.33), has_production=False, policy=POLICY)
    assert decision.action == PROMOTED


def test_every_failed_gate_is_named_in_the_reason():
    decision = decision_make(report=report(random=0.5, ndcg=0.2), has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert "debiased NDCG@10" in decision.reason
    assert "click ndcg@10" in decision.reason


# --- missing and NaN metrics ---------------------------------------------------------------


@pytest.mark.parametrize("missing", ["debiased", "ndcg", "mrr", "ctr"])
@pytest.mark.parametrize("value", [None, math.nan])
def test_a_missing_or_nan_model_metric_rejects_the_model(missing, value):
    decision = decision_make(report=report(**{missing: value}), has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert decision.gates["no_nan"] is False
    assert "missing or NaN" in decision.reason


def test_an_empty_report_is_rejected_not_raised():
    decision = decision_make(report={}, has_production=False, policy=POLICY)
    assert decision.action == REJECTED
    assert "missing or NaN" in decision.reason


def test_a_baseline_that_could_not_be_computed_is_skipped_by_the_gates():
    # A baseline whose metric is missing cannot be beaten or lost to; the others still count.
    decision = decision_make(report=report(random=math.nan), has_production=False, policy=POLICY)
    assert decision.action == PROMOTED


# --- against production --------------------------------------------------------------------


def test_the_model_replaces_production_when_it_gains_five_percent_and_the_interval_is_above_zero():
    decision = decision_make(
        report=report(debiased=0.43, production=0.40, interval=[0.001, 0.04]),
        has_production=True,
        policy=POLICY,
    )
    assert decision.action == PROMOTED
    assert decision.gates["beats_production_by_threshold"] is True
    assert decision.gates["interval_above_zero"] is True
    assert decision.reason.startswith("beats production")
    assert "(+7.5%, needs +5%)" in decision.reason


def test_a_gain_below_five_percent_keeps_production_even_with_the_interval_above_zero():
    decision = decision_make(
        report=report(debiased=0.419, production=0.40, interval=[0.001, 0.04]),
        has_production=True,
        policy=POLICY,
    )
    assert decision.action == REJECTED
    assert decision.gates["beats_production_by_threshold"] is False
    assert "does not beat production clearly enough" in decision.reason
    assert "needs +5%" in decision.reason


@pytest.mark.parametrize("interval", [[0.0, 0.05], [-0.01, 0.05], None])
def test_a_large_gain_keeps_production_when_the_interval_lower_bound_is_not_above_zero(interval):
    decision = decision_make(
        report=report(debiased=0.50, production=0.40, interval=interval), has_production=True, policy=POLICY
    )
    assert decision.action == REJECTED
    assert decision.gates["beats_production_by_threshold"] is True
    assert decision.gates["interval_above_zero"] is False


def test_a_model_that_fails_a_gate_is_rejected_before_it_is_compared_with_production():
    decision = decision_make(
        report=report(debiased=0.50, production=0.40, interval=[0.05, 0.15], ndcg=0.1),
        has_production=True,
        policy=POLICY,
    )
    assert decision.action == REJECTED
    assert decision.reason.startswith("gates failed")


def test_a_production_model_that_could_not_be_evaluated_keeps_its_place():
    decision = decision_make(report=report(), has_production=True, policy=POLICY)
    assert decision.action == REJECTED
    assert "could not be evaluated" in decision.reason


def test_the_threshold_comes_from_the_policy():
    lenient = Policy(min_relative_gain=0.01)
    decision = decision_make(
        report=report(debiased=0.41, production=0.40, interval=[0.001, 0.02]),
        has_production=True,
        policy=lenient,
    )
    assert decision.action == PROMOTED
