"""Team-draft interleaving (``ranking.experiments.interleaving``): the draft by hand, its
fairness over many draws, the common prefix, the credit."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.experiments.interleaving import credit_count, team_draft_interleave


class Coins:
    """A scripted coin for the hand-worked drafts: ``random()`` returns the values in turn
    (below 0.5: the control's team picks first in that round)."""

    def __init__(self, *values: float):
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def test_a_round_won_by_the_control_lets_it_pick_first_then_the_challenger_picks_its_best_remaining():
    control = ["a", "b", "c", "d"]
    challenger = ["b", "a", "d", "c"]

    drafted = team_draft_interleave(control, challenger, rng=Coins(0.1, 0.9))

    # Round 1: control picks a, challenger its best not placed: b. Round 2: challenger first
    # picks d, control its best not placed: c.
    assert drafted.items == ["a", "b", "d", "c"]
    assert drafted.teams == "ABBA"


def test_the_common_prefix_is_placed_as_both_rankers_place_it_and_belongs_to_neither_team():
    control = ["x", "y", "a", "b"]
    challenger = ["x", "y", "b", "a"]

    drafted = team_draft_interleave(control, challenger, rng=Coins(0.9))

    assert drafted.items == ["x", "y", "b", "a"]
    assert drafted.teams == "==BA"


def test_interleaving_a_ranker_with_itself_shares_every_product_and_credits_nobody():
    order = [f"p{i}" for i in range(12)]
    drafted = team_draft_interleave(order, list(order), rng=np.random.default_rng(0))

    assert drafted.items == order
    assert drafted.teams == "=" * 12
    assert credit_count(drafted.teams, range(1, 13)) == (0, 0)


def test_the_same_seed_gives_the_same_list_and_the_cut_list_is_the_top_of_the_whole():
    rng = np.random.default_rng(5)
    control = [f"p{i}" for i in rng.permutation(30)]
    challenger = [f"p{i}" for i in rng.permutation(30)]

    whole = team_draft_interleave(control, challenger, rng=np.random.default_rng(42))
    again = team_draft_interleave(control, challenger, rng=np.random.default_rng(42))
    top = team_draft_interleave(control, challenger, rng=np.random.default_rng(42), length=10)

    assert whole == again
    assert sorted(whole.items) == sorted(control)
    assert top.items == whole.items[:10]
    assert top.teams == whole.teams[:10]


def test_every_position_belongs_to_each_team_half_of_the_time_over_many_draws():
    rng = np.random.default_rng(1)
    control = [f"p{i}" for i in range(10)]
    challenger = control[::-1]  # no common prefix: every position is drafted
    draws = 8000
    control_team = np.zeros(10)
    for _ in range(draws):
        drafted = team_draft_interleave(control, challenger, rng=rng)
        control_team += np.array([team == "A" for team in drafted.teams])

    share = control_team / draws
    # Four standard errors of a fair coin over 8,000 draws: 0.022.
    assert np.all(np.abs(share - 0.5) < 4 * np.sqrt(0.25 / draws))


def test_each_team_holds_half_the_drafted_positions_give_or_take_one():
    rng = np.random.default_rng(2)
    for _ in range(200):
        control = [f"p{i}" for i in rng.permutation(15)]
        challenger = [f"p{i}" for i in rng.permutation(15)]
        teams = team_draft_interleave(control, challenger, rng=rng).teams
        drafted = teams.lstrip("=")
        assert abs(drafted.count("A") - drafted.count("B")) <= 1


def test_orders_of_different_candidates_are_refused():
    with pytest.raises(ValueError, match="same candidates"):
        team_draft_interleave(["a", "b"], ["a", "c"], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="each once"):
        team_draft_interleave(["a", "a"], ["a", "a"], rng=np.random.default_rng(0))


def test_credit_counts_distinct_clicked_positions_per_team_and_ignores_shared_and_unknown_ones():
    teams = "==ABBA"
    # Positions 1 (shared), 3 (A), 4 and 5 (B), 4 again, 9 (past the list).
    assert credit_count(teams, [1, 3, 4, 5, 4, 9]) == (1, 2)
    assert credit_count(teams, []) == (0, 0)
