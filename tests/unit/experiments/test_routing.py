"""What serving does with a search of an experiment (``ranking.experiments.routing``)."""

from __future__ import annotations

import pytest

from ranking.experiments.arms import Arm, RankerRef, in_share, unit_key
from ranking.experiments.routing import LiveExperiment, needs_challenger, search_answer, search_arm

CONTROL = ["a", "b", "c", "d", "e"]
CHALLENGER = ["e", "d", "c", "b", "a"]


def live(kind: str, traffic: float = 1.0) -> LiveExperiment:
    return LiveExperiment(
        id=7, kind=kind, traffic=traffic, control=RankerRef(3), challenger=RankerRef(baseline="random")
    )


def test_ab_puts_every_search_in_an_arm_and_the_users_in_the_share_get_the_challenger():
    arms = {
        search_arm(live("ab", 0.3), user_id=f"U{i}", session_id="", request_id=f"r{i}") for i in range(200)
    }
    assert arms == {Arm.CONTROL, Arm.CHALLENGER}
    for i in range(50):
        chosen = in_share(
            experiment_id=7, unit=unit_key(user_id=f"U{i}", session_id="", request_id=""), share=0.3
        )
        arm = search_arm(live("ab", 0.3), user_id=f"U{i}", session_id="", request_id="any")
        assert arm == (Arm.CHALLENGER if chosen else Arm.CONTROL)


def test_interleaving_and_shadow_take_only_the_share_and_leave_the_rest_out():
    for kind, arm in (("interleaving", Arm.INTERLEAVED), ("shadow", Arm.SHADOW)):
        arms = [
            search_arm(live(kind, 0.5), user_id=f"U{i}", session_id="", request_id="") for i in range(200)
        ]
        assert set(arms) == {arm, None}
        assert search_arm(live(kind, 1.0), user_id="U1", session_id="", request_id="") == arm


def test_only_the_control_arm_goes_without_the_challenger():
    assert not needs_challenger(Arm.CONTROL)
    assert all(needs_challenger(arm) for arm in (Arm.CHALLENGER, Arm.INTERLEAVED, Arm.SHADOW))


def test_the_answer_of_each_arm_and_what_it_records():
    common = {"control": CONTROL, "challenger": CHALLENGER, "request_id": "r1", "limit": 3}

    control = search_answer(live("ab"), arm=Arm.CONTROL, **common)
    challenger = search_answer(live("ab"), arm=Arm.CHALLENGER, challenger_seconds=0.001, **common)
    shadow = search_answer(live("shadow"), arm=Arm.SHADOW, **common)
    interleaved = search_answer(live("interleaving"), arm=Arm.INTERLEAVED, **common)

    assert (control.ids, control.exposure.arm, control.exposure.challenger_error) == (
        ["a", "b", "c"],
        "control",
        "",
    )
    assert challenger.ids == ["e", "d", "c"]
    assert challenger.exposure.challenger_seconds == 0.001
    assert (shadow.ids, shadow.exposure.shadow_ids) == (["a", "b", "c"], ["e", "d", "c"])
    assert len(interleaved.ids) == len(interleaved.exposure.teams) == 3
    assert set(interleaved.exposure.teams) <= {"A", "B"}
    assert interleaved == search_answer(
        live("interleaving"), arm=Arm.INTERLEAVED, **common
    )  # seeded by the request
    assert {control.exposure.experiment_id, shadow.exposure.experiment_id} == {7}


@pytest.mark.parametrize("arm", [Arm.CHALLENGER, Arm.INTERLEAVED, Arm.SHADOW])
def test_without_the_challengers_order_the_control_answers_and_the_error_is_recorded(arm):
    answer = search_answer(
        live("ab"),
        arm=arm,
        control=CONTROL,
        challenger=None,
        request_id="r1",
        limit=None,
        challenger_error="not loaded",
    )
    assert answer.ids == CONTROL
    assert answer.exposure.challenger_error == "not loaded"
    assert answer.exposure.teams == ""
    assert answer.exposure.shadow_ids is None
