"""What becomes of the running experiment (``ranking.experiments.rules``), from reports
written by hand."""

from __future__ import annotations

import pytest

from ranking.experiments.rules import Action, Rules, Situation, verdict_get

RULES = Rules(alpha=0.05, min_preference=0.02, max_error_rate=0.01, max_added_ms=5.0, stage_searches=100)


def preference(p: float, value: float, wins: int = 60, losses: int = 40) -> dict:
    return {
        "searches": 1000,
        "searches_with_click": 400,
        "wins": wins,
        "losses": losses,
        "ties": 400 - wins - losses,
        "preference": value,
        "interval": [value - 0.05, value + 0.05],
        "sign_test_p": p / 2,
        "sequential_p": p,
    }


def report(
    searches: int = 1000, *, errors: int = 0, added: float | None = 1.0, days: float = 1.0, **kind
) -> dict:
    return {
        "searches": searches,
        "days": days,
        "challenger_searches": searches,
        "challenger_errors": errors,
        "added_ms_mean": added,
        "timed_searches": searches,
        **kind,
    }


def interleaving(p: float, value: float, **counts) -> dict:
    return {"interleaving": {"click": preference(p, value)}, **counts}


def ab(
    ctr_p: float, ctr_difference: float, purchase_p: float = 1.0, purchase_difference: float = 0.0
) -> dict:
    def entry(p, difference):
        return {
            "difference": difference,
            "interval": [difference - 0.01, difference + 0.01],
            "p_value": p,
            "sequential_p": p,
        }

    rates = {"ctr": 0.4, "purchase_rate": 0.05}
    return {
        "ab": {
            "arms": {"control": rates, "challenger": rates},
            "differences": {
                "ctr": entry(ctr_p, ctr_difference),
                "purchase_rate": entry(purchase_p, purchase_difference),
            },
        }
    }


def situation(**changes) -> Situation:
    base = {
        "interleaving": True,
        "ab": False,
        "watch": False,
        "gate": True,
        "promotable": True,
        "min_searches": 200,
        "max_searches": 5000,
        "max_days": 14.0,
    }
    return Situation(**{**base, **changes})


def test_a_challenger_that_errs_over_its_budget_is_stopped_before_anything_else():
    verdict = verdict_get(report(100, errors=5, **interleaving(0.001, 0.3)), situation(), RULES)
    assert verdict.action == Action.GUARDRAIL
    assert "failed in 5 of 100 searches (5.0%; budget 1.0%)" in verdict.reason


def test_guardrails_wait_for_twenty_searches_with_the_challenger():
    verdict = verdict_get(
        report(19, errors=19, added=50.0, **interleaving(1.0, 0.0)), situation(min_searches=0), RULES
    )
    assert verdict.action == Action.CONTINUE


def test_a_challenger_slower_than_its_budget_is_stopped():
    verdict = verdict_get(report(500, added=7.5, **interleaving(1.0, 0.0)), situation(), RULES)
    assert verdict.action == Action.GUARDRAIL
    assert "7.50 ms per search" in verdict.reason


def test_an_ab_challenger_significantly_worse_on_ctr_or_purchases_is_stopped_at_half_alpha_each():
    ab_situation = situation(interleaving=False, ab=True, gate=False, promotable=False)
    worse_ctr = verdict_get(report(**ab(0.02, -0.05)), ab_situation, RULES)
    worse_purchases = verdict_get(report(**ab(1.0, 0.0, 0.001, -0.01)), ab_situation, RULES)
    not_at_half_alpha = verdict_get(report(**ab(0.03, -0.05)), ab_situation, RULES)
    better = verdict_get(report(**ab(0.001, +0.05)), ab_situation, RULES)

    assert worse_ctr.action == worse_purchases.action == Action.GUARDRAIL
    assert "ctr is significantly lower" in worse_ctr.reason
    assert "purchase_rate" in worse_purchases.reason
    assert not_at_half_alpha.action == better.action == Action.CONTINUE


def test_nothing_is_decided_before_the_minimum_searches():
    verdict = verdict_get(report(150, **interleaving(0.0001, 0.5)), situation(), RULES)
    assert verdict.action == Action.CONTINUE


def test_a_preferred_challenger_is_promoted_and_a_dispreferred_one_rejected():
    promoted = verdict_get(report(**interleaving(0.01, 0.10)), situation(), RULES)
    rejected = verdict_get(report(**interleaving(0.01, -0.10)), situation(), RULES)

    assert promoted.action == Action.PROMOTE
    assert "users prefer the challenger: preference +0.100" in promoted.reason
    assert rejected.action == Action.REJECT


def test_a_significant_preference_below_the_minimum_waits_for_more():
    verdict = verdict_get(report(**interleaving(0.01, 0.01)), situation(), RULES)
    assert verdict.action == Action.CONTINUE


@pytest.mark.parametrize(("inconclusive", "action"), [("offline", Action.PROMOTE), ("reject", Action.REJECT)])
def test_a_gate_without_a_result_at_its_end_applies_its_inconclusive_rule(inconclusive, action):
    rules = Rules(inconclusive=inconclusive)
    by_searches = verdict_get(report(5000, **interleaving(0.5, 0.01)), situation(), rules)
    by_days = verdict_get(report(1000, days=14.0, **interleaving(0.5, 0.01)), situation(), rules)

    assert by_searches.action == by_days.action == action
    assert "5000 of 5000 searches" in by_searches.reason
    assert "14.0 of 14 days" in by_days.reason


def test_an_experiment_a_person_started_concludes_without_a_result_and_changes_nothing():
    verdict = verdict_get(report(5000, **interleaving(0.5, 0.01)), situation(gate=False), RULES)
    assert verdict.action == Action.CONCLUDE


def test_a_watch_rolls_back_when_the_replaced_version_is_preferred_and_keeps_production_otherwise():
    watch = situation(watch=True, gate=False)
    rolled_back = verdict_get(report(**interleaving(0.01, 0.1)), watch, RULES)
    production_better = verdict_get(report(**interleaving(0.01, -0.1)), watch, RULES)
    kept = verdict_get(report(5000, **interleaving(0.3, 0.05)), watch, RULES)

    assert rolled_back.action == Action.ROLLBACK
    assert production_better.action == Action.CONTINUE
    assert kept.action == Action.KEEP


def test_a_baseline_interleaving_concludes_when_significant_either_way():
    baseline = situation(gate=False, promotable=False)
    verdict = verdict_get(report(**interleaving(0.001, -0.3)), baseline, RULES)
    assert verdict.action == Action.CONCLUDE
    assert "users prefer the control" in verdict.reason


def test_a_canary_advances_once_its_stage_held_for_enough_searches_and_not_past_the_last():
    canary = situation(interleaving=False, ab=True, gate=False, promotable=False, stages=(0.05, 0.25, 0.5))
    held = verdict_get(report(**ab(1.0, 0.0)), Situation(**{**canary.__dict__, "stage_searches": 100}), RULES)
    early = verdict_get(report(**ab(1.0, 0.0)), Situation(**{**canary.__dict__, "stage_searches": 99}), RULES)
    last = verdict_get(
        report(**ab(1.0, 0.0)), Situation(**{**canary.__dict__, "stage": 2, "stage_searches": 500}), RULES
    )

    assert held.action == Action.ADVANCE
    assert "now gets 25%" in held.reason
    assert early.action == last.action == Action.CONTINUE


def test_rules_stored_on_an_experiment_round_trip_and_take_defaults_for_missing_keys():
    assert Rules.from_dict(RULES.as_dict()) == RULES
    assert Rules.from_dict({"alpha": 0.01, "unknown": 1}) == Rules(alpha=0.01)
