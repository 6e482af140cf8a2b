"""Team-draft interleaving (Radlinski, Kurup and Joachims, "How does clickthrough data reflect
retrieval quality?", CIKM 2008), and how a search's clicks are credited to the two teams.

Pure Python, no Django: serving calls ``team_draft_interleave`` once per
interleaved search, the selectors credit stored searches in SQL by the same rule that
``credit_count`` states here.

**The draft.** The control's team is ``A``, the challenger's ``B``. Like two captains picking
players, in each round a fair coin decides which team picks first; each team then adds its
highest-ranked product that is not in the list yet, and that product belongs to the team.
(Radlinski et al. phrase it as "the team with fewer picks picks next; on equal picks a coin
decides", which is the same thing.) Both orders rank the same candidates, so they run out
together.

**Products both rankers place alike.** Where the two orders agree from the top (the same
product first, the same second, ...), every draft would place those products exactly there,
whatever the coins say, and only their team would be random. So the common prefix is taken
as it is and its products belong to neither team (``=``): a click on one of them says
nothing about which ranker is better and is not credited. The draft starts after the
prefix. A product both rankers place at the same rank *after* they first disagree is drafted
like any other (whichever team reaches it first owns it): from there on the lists above it
differ, so the two rankers do not really place it alike.

**Credit.** A team's credit in a search is the number of distinct products of that team the
user clicked (added to the cart, bought: each counted apart). The challenger *wins* the
search when its team has more credit, *loses* when it has less, and ties otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, TypeVar

CONTROL_TEAM = "A"
CHALLENGER_TEAM = "B"
SHARED = "="

Item = TypeVar("Item")


class Coins(Protocol):
    """A source of uniform numbers in [0, 1): ``random.Random`` (what serving seeds from the
    request id: a third of numpy's cost per draw) or a ``numpy.random.Generator``."""

    def random(self) -> float: ...


class Interleaving(NamedTuple):
    """The interleaved list and, position by position, the team each product belongs to
    (a string as long as the list: ``A`` control, ``B`` challenger, ``=`` neither)."""

    items: list
    teams: str


def team_draft_interleave(
    control: Sequence[Item],
    challenger: Sequence[Item],
    *,
    rng: Coins,
    length: int | None = None,
) -> Interleaving:
    """Interleave two orders of the same candidates by team draft, cut to ``length``.

    1. Take the common prefix of the two orders as it is, team ``=``.
    2. Then, round by round: a fair coin (``rng``) decides which team picks first; each team
       in turn appends its highest-ranked product not in the list yet, with its letter.
    3. Stop at ``length`` products (default: all of them).

    Only the first ``length`` products of each order can ever be picked, so interleaving the
    full orders and cutting gives the same list as interleaving their tops. Deterministic for
    the state of ``rng`` (seed it from the request id to replay a search)."""
    if (
        len(set(control)) != len(control)
        or len(control) != len(challenger)
        or set(control) != set(challenger)
    ):
        raise ValueError("both orders must rank the same candidates, each once")
    total = len(control) if length is None else min(max(length, 0), len(control))
    items: list = []
    teams: list[str] = []
    while len(items) < total and control[len(items)] == challenger[len(items)]:
        items.append(control[len(items)])
        teams.append(SHARED)
    placed = set(items)
    # Each team's next pick is its highest-ranked product not placed yet: a pointer per order.
    # (Written out for the two teams: serving drafts every interleaved search in the request.)
    next_control = next_challenger = len(items)
    while len(items) < total:
        control_first = rng.random() < 0.5
        for control_picks in (control_first, not control_first):
            if len(items) == total:
                break
            if control_picks:
                while control[next_control] in placed:
                    next_control += 1
                item = control[next_control]
                next_control += 1
                teams.append(CONTROL_TEAM)
            else:
                while challenger[next_challenger] in placed:
                    next_challenger += 1
                item = challenger[next_challenger]
                next_challenger += 1
                teams.append(CHALLENGER_TEAM)
            items.append(item)
            placed.add(item)
    return Interleaving(items=items, teams="".join(teams))


def credit_count(teams: str, positions: Sequence[int]) -> tuple[int, int]:
    """``(control, challenger)`` credit of one search: how many of the distinct 1-based
    ``positions`` that were clicked (or carted, or bought) hold a product of team ``A``, and
    how many of team ``B``. Shared products (``=``) and positions past the list count for
    neither."""
    clicked = {p for p in positions if 1 <= p <= len(teams)}
    control = sum(1 for p in clicked if teams[p - 1] == CONTROL_TEAM)
    challenger = sum(1 for p in clicked if teams[p - 1] == CHALLENGER_TEAM)
    return control, challenger
