#!/usr/bin/env python
"""How many searches interleaving and an A/B test each need to detect the same ranking
difference with 80% power on the synthetic shop, and their ratio (a script, not a test).

    nice .venv/bin/python bench/experiment_power.py            # the default shop, a few minutes
    nice .venv/bin/python bench/experiment_power.py --smoke    # a tiny shop: that it runs

1. **The rankers.** A database of its own (``BENCH_DATABASE_URL``, default
   ``searchop_bench_power``) with the default synthetic shop (seed 42, the demo's data), the
   production model the pipeline trains on it (``run_pipeline``, default settings), and a
   weaker model (``train_model`` with 3 trees of 3 leaves), made once and kept.
2. **A pool of searches.** The shop's shoppers (``catalog.synthetic.shoppers``) make
   ``--searches`` searches; each search's candidates are scored in this process the way
   ``/api/rank`` scores them (the serving state's features and model, one matrix), by the
   model, ``bm25``, ``popularity`` and the weaker model. Each search is then played, by the
   same shopper, on:
   - the team-draft interleaving (``ranking.experiments.interleaving``) of the model with each
     other ranker, the clicks credited by its rule: a win, loss or tie per search;
   - each ranker's own order alone (the arms of an A/B test): a click or not per search.
3. **Power by repeated simulated experiments.** For a growing sample size, ``--experiments``
   experiments drawn from the pool with replacement, each tested as the experiment's
   report tests it (``ranking.experiments.statistics``): interleaving by the two-sided
   exact sign test (``sign_test_p``) over searches; A/B by the difference of per-user CTR
   (searches with a click over searches, the user as the unit: ``ratio_from_sums``, the
   delta-method variance, the z-test ``normal_test_p`` that ``ratio_difference`` reports),
   users drawn whole with the searches they made in the pool. Power is the share of
   experiments with p < 0.05; the figure is the smallest size on the grid (steps of 20%,
   from 40% of the normal approximation's answer) at which it reaches 80%, in searches (both
   arms together for A/B). The pool holds each search's *chances* (of a click; of a win and
   a loss, from 64 replays of the clicks on its interleaved list), and every simulated
   experiment draws its clicks from them afresh, so that the differences the experiments
   look for are the shop's, not one pool's luck.

Prints a markdown table and the ratios; ``--output`` writes the block into a docs page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_power")
PY = str(ROOT / ".venv" / "bin" / "python")
ALPHA, POWER = 0.05, 0.8
GRID_STEP = 1.2
SHOP = {"full": [], "smoke": ["--products", "120", "--categories", "4", "--users", "60", "--events", "6000"]}
PRODUCTION_ROUNDS = {"full": None, "smoke": "20"}  # None: the pipeline's default
WEAK = {"SEARCHOP_NUM_BOOST_ROUND": "3", "SEARCHOP_NUM_LEAVES": "3"}
OTHERS = ("bm25", "popularity", "weaker model")
REPLAYS = 64  # plays of the clicks on each interleaved list, for its chances of a win and a loss
DRAWS_PER_CHUNK = 4_000_000
# The grid of sample sizes starts at this share of the normal approximation's answer.
START_SHARE = 0.4


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "searchop_site.settings",
        "SEARCHOP_REQUIRE_API_KEY": "0",
        "SEARCHOP_COMPILED_INFERENCE": "0",
        "SEARCHOP_PROMOTION": "offline",
        "SEARCHOP_VAR_DIR": str(ROOT / "var" / "bench_power"),
        "REDIS_URL": "",
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout


def database_ready(env: dict[str, str], *, size: str) -> tuple[int, int]:
    """Step 1, once per database: the shop, the production model and the weaker one.
    Returns (production version, weaker version)."""
    name = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"], capture_output=True
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DEBUG")})
    os.environ.update({k: env[k] for k in env if k.startswith("SEARCHOP_") or k == "REDIS_URL"})
    import django

    django.setup()
    from catalog.models import Event
    from ranking.models import ModelVersion

    if not Event.objects.exists():
        print("[setup] generating the synthetic shop ...", flush=True)
        manage(env, "generate_synthetic_data", *SHOP[size])
    production = ModelVersion.objects.filter(status="production").first()
    if production is None:
        print("[setup] training the production model (run_pipeline) ...", flush=True)
        rounds = PRODUCTION_ROUNDS[size]
        train_env = {**env, **({"SEARCHOP_NUM_BOOST_ROUND": rounds} if rounds else {})}
        manage(train_env, "run_pipeline", "--json")
        if not ModelVersion.objects.filter(status="production").exists():  # the offline gate said no
            print(
                "[setup] the offline gate rejected it: training one more and promoting it by hand", flush=True
            )
            report = json.loads(manage(train_env, "train_model", "--json"))
            manage(env, "promote_model", str(report["version"]), "--reason", "power benchmark")
        production = ModelVersion.objects.get(status="production")
    weak = ModelVersion.objects.filter(num_trees__lte=int(WEAK["SEARCHOP_NUM_BOOST_ROUND"])).exclude(
        pk=production.pk
    )
    if not weak.exists():
        print("[setup] training the weaker model (train_model, 3 trees of 3 leaves) ...", flush=True)
        json.loads(manage({**env, **WEAK}, "train_model", "--json"))
    weaker = weak.order_by("-version").first()
    assert weaker is not None
    print(f"[setup] production v{production.version} ({production.num_trees} trees), weaker v{weaker.version} "
          f"({weaker.num_trees} trees)", flush=True)  # fmt: skip
    return production.version, weaker.version


@dataclass
class Pool:
    """Per search of the pool: its user and, for each experiment, the chances of what the
    shopper does with the list it would show (estimated once, drawn in every experiment)."""

    users: np.ndarray
    win: dict[str, np.ndarray]  # interleaving of the model with each other: P(the model wins)
    loss: dict[str, np.ndarray]  # ... P(it loses)
    click: dict[str, np.ndarray]  # A/B: P(a click) in the ranker's own order ("model" too)


def click_chance(relevance: np.ndarray, eta: float) -> float:
    """P(at least one click) in a list of these true grades, under the position-based model."""
    from catalog.synthetic.clicks import ATTRACTION

    examined = (1.0 / np.arange(1, len(relevance) + 1)) ** eta
    return float(1.0 - np.prod(1.0 - examined * ATTRACTION[relevance]))


def credit_chances(
    relevance: np.ndarray, teams: str, *, eta: float, rng: np.random.Generator
) -> tuple[float, float]:
    """P(win), P(loss) of the challenger (team B) on one interleaved list: the shopper's clicks
    replayed REPLAYS times on the same grades, credited by ``credit_count``'s rule."""
    from catalog.synthetic.clicks import funnel_simulate

    team = np.frombuffer(teams.encode(), dtype=np.uint8)
    clicked = funnel_simulate(np.tile(relevance, (REPLAYS, 1)), eta=eta, rng=rng).clicked
    margin = (clicked & (team == ord("B"))).sum(1) - (clicked & (team == ord("A"))).sum(1)
    return float((margin > 0).mean()), float((margin < 0).mean())


def pool_build(searches: int, weaker_version: int, *, seed: int, size: str) -> Pool:
    """Step 2."""
    from catalog.synthetic import SyntheticConfig
    from catalog.synthetic.shoppers import RankAnswer, ShopperSimulator
    from ranking.experiments.interleaving import team_draft_interleave
    from ranking.model_loading import booster_load
    from ranking.models import ModelVersion
    from ranking.serving.rank import features_look_up, order_compute
    from ranking.serving.scoring import feature_scorer, model_scorer
    from ranking.serving.state import SERVING, state_build
    from ranking.serving.validation import rank_request_validate

    config = SyntheticConfig(products=120, categories=4, users=60) if size == "smoke" else SyntheticConfig()
    eta = config.examination_eta
    simulator = ShopperSimulator.for_config(config, seed=seed)
    state = state_build(SERVING._wanted_key())
    weak = booster_load(model_version=ModelVersion.objects.get(version=weaker_version))
    scorers = {
        "model": model_scorer(state).predict,
        "bm25": feature_scorer("bm25", state.snapshot.contract).predict,
        "popularity": feature_scorer("popularity", state.snapshot.contract).predict,
        "weaker model": lambda features: np.asarray(weak.predict(features, num_threads=1)),
    }
    rng = np.random.default_rng([seed, 3])
    users: list[int] = []
    win: dict[str, list[float]] = {o: [] for o in OTHERS}
    loss: dict[str, list[float]] = {o: [] for o in OTHERS}
    click: dict[str, list[float]] = {r: [] for r in scorers}
    started = time.perf_counter()
    for number, search in enumerate(simulator.searches_draw(searches), start=1):
        request = rank_request_validate(
            {"query": search.query, "user_id": search.user_id, "products": search.candidates}
        )
        features = features_look_up(state, request)
        orders = {name: [request.ids[i] for i in order_compute(score(features), limit=None)] for name, score in scorers.items()}  # fmt: skip
        users.append(search.user_index)
        for name, order in orders.items():  # the A/B arms: each order alone
            click[name].append(
                click_chance(simulator.search_play(search, RankAnswer("ab", order)).relevance, eta)
            )
        for other in OTHERS:  # control: the other ranker (team A); challenger: the model (team B)
            mixed = team_draft_interleave(orders[other], orders["model"], rng=rng)
            played = simulator.search_play(search, RankAnswer("il", mixed.items))
            chances = credit_chances(played.relevance, mixed.teams, eta=eta, rng=rng)
            win[other].append(chances[0])
            loss[other].append(chances[1])
        if number % 5000 == 0:
            print(f"  {number:,} searches ({time.perf_counter() - started:.0f} s)", flush=True)
    as_arrays = lambda values: {k: np.array(v) for k, v in values.items()}  # noqa: E731
    return Pool(users=np.array(users), win=as_arrays(win), loss=as_arrays(loss), click=as_arrays(click))


def grid(start: float, stop: float) -> list[int]:
    sizes, size = [], max(start, 10.0)
    while size <= stop:
        sizes.append(round(size))
        size *= GRID_STEP
    return sorted(set(sizes))


def _chunks(experiments: int, per_experiment: int) -> list[int]:
    """Experiments per chunk so that one chunk draws at most DRAWS_PER_CHUNK numbers."""
    per_chunk = max(1, DRAWS_PER_CHUNK // max(per_experiment, 1))
    return [min(per_chunk, experiments - done) for done in range(0, experiments, per_chunk)]


def interleaving_needed(
    win: np.ndarray, loss: np.ndarray, *, experiments: int, rng: np.random.Generator, cap: int
) -> int | None:
    """Searches for 80% power of the sign test (step 3), or None above ``cap``."""
    from ranking.experiments.statistics import sign_test_p

    for n in grid(START_SHARE * _sign_test_guess(float(win.mean()), float(loss.mean())), cap):
        p_values = []
        for chunk in _chunks(experiments, n):
            pick = rng.integers(0, len(win), size=(chunk, n))
            draw = rng.random((chunk, n))
            wins = (draw < win[pick]).sum(1)
            losses = ((draw >= win[pick]) & (draw < win[pick] + loss[pick])).sum(1)
            p_values += [sign_test_p(int(w), int(x)) for w, x in zip(wins, losses, strict=True)]
        if np.mean(np.array(p_values) < ALPHA) >= POWER:
            return n
    return None


def ab_needed(
    users: np.ndarray,
    control: np.ndarray,
    challenger: np.ndarray,
    *,
    experiments: int,
    rng: np.random.Generator,
    cap: int,
) -> int | None:
    """Searches (both arms) for 80% power of the per-user CTR difference (step 3), or None."""
    from ranking.experiments.statistics import normal_test_p, ratio_from_sums

    by_user = np.argsort(users, kind="stable")
    unit_ids, first, count = np.unique(users[by_user], return_index=True, return_counts=True)
    per_user = len(users) / len(unit_ids)

    def arm(chance: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ratio, variance, searches) of ``experiments`` arms of ``k`` users drawn whole."""
        out = []
        for chunk in _chunks(experiments, int(k * per_user)):
            pick = rng.integers(0, len(unit_ids), size=chunk * k)
            sizes = count[pick]
            ends = np.cumsum(sizes)
            within = np.arange(ends[-1]) - np.repeat(ends - sizes, sizes)
            searches = by_user[np.repeat(first[pick], sizes) + within]
            clicked = (rng.random(len(searches)) < chance[searches]).astype(float)
            x = np.add.reduceat(clicked, ends - sizes).reshape(chunk, k)
            y = sizes.astype(float).reshape(chunk, k)
            out.append(
                (
                    *ratio_from_sums(k, x.sum(1), y.sum(1), (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)),
                    y.sum(1),
                )
            )
        return tuple(np.concatenate(part) for part in zip(*out, strict=True))  # type: ignore[return-value]

    guess = _ab_guess(arm(control, len(unit_ids)), arm(challenger, len(unit_ids)), len(unit_ids))
    for k in grid(max(START_SHARE * guess, 5), cap / (2 * per_user)):
        control_ratio, control_var, control_n = arm(control, k)
        challenger_ratio, challenger_var, challenger_n = arm(challenger, k)
        p = normal_test_p(challenger_ratio - control_ratio, control_var + challenger_var)
        if np.mean(p < ALPHA) >= POWER:
            return int(np.mean(control_n + challenger_n))
    return None


def _sign_test_guess(win: float, loss: float) -> float:
    """The normal approximation of the sign test's sample size: where the grid starts."""
    decisive = win + loss
    if decisive == 0 or win == loss:
        return float("inf")
    q = win / decisive
    z_a, z_b = stats.norm.ppf(1 - ALPHA / 2), stats.norm.ppf(POWER)
    return float(((z_a * 0.5 + z_b * np.sqrt(q * (1 - q))) / abs(q - 0.5)) ** 2 / decisive)


def _ab_guess(control: tuple, challenger: tuple, k: int) -> float:
    """Users per arm by the normal approximation, from the variance of arms of ``k`` users."""
    difference = float(np.mean(challenger[0]) - np.mean(control[0]))
    variance = float(np.mean(control[1]) + np.mean(challenger[1])) * k  # of one user per arm
    if difference == 0:
        return float("inf")
    z_a, z_b = stats.norm.ppf(1 - ALPHA / 2), stats.norm.ppf(POWER)
    return (z_a + z_b) ** 2 * variance / difference**2


def figures(pool: Pool, *, experiments: int, seed: int, cap: int) -> list[dict]:
    rng = np.random.default_rng([seed, 5])
    rows = []
    for other in OTHERS:
        win, loss = pool.win[other], pool.loss[other]
        rows.append(
            {
                "other": other,
                "win": float(win.mean()),
                "loss": float(loss.mean()),
                "ctr_model": float(pool.click["model"].mean()),
                "ctr_other": float(pool.click[other].mean()),
                "interleaving": interleaving_needed(win, loss, experiments=experiments, rng=rng, cap=cap),
                "ab": ab_needed(
                    pool.users,
                    pool.click[other],
                    pool.click["model"],
                    experiments=experiments,
                    rng=rng,
                    cap=cap,
                ),
                "cap": cap,
            }
        )
        print(
            f"  model vs {other}: interleaving {rows[-1]['interleaving']}, A/B {rows[-1]['ab']}", flush=True
        )
    return rows


def table(rows: list[dict]) -> list[str]:
    def searches(value: int | None, cap: int) -> str:
        return f"{value:,}" if value is not None else f"> {cap:,}"

    lines = [
        "| model vs | interleaving: P(model wins) / P(loses) per search | interleaving: searches for 80% power "
        "| A/B: CTR model / other | A/B: searches for 80% power | A/B / interleaving |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['ab'] / row['interleaving']:.1f}x" if row["ab"] and row["interleaving"] else "n/a"
        lines.append(
            f"| {row['other']} | {row['win']:.2%} / {row['loss']:.2%} "
            f"| {searches(row['interleaving'], row['cap'])} | {row['ctr_model']:.2%} / {row['ctr_other']:.2%} "
            f"| {searches(row['ab'], row['cap'])} | {ratio} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--searches", type=int, default=20_000, help="the pool of simulated searches")
    parser.add_argument("--experiments", type=int, default=300, help="simulated experiments per sample size")
    parser.add_argument("--cap", type=int, default=2_000_000, help="the largest sample size tried (searches)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="a tiny shop and a 20-tree model: that it runs")
    parser.add_argument("--output", default="", help="write the block into this docs page")
    args = parser.parse_args()
    size = "smoke" if args.smoke else "full"
    started = time.perf_counter()
    _, weaker = database_ready(environment(), size=size)
    print(f"[pool] {args.searches:,} searches, each played on 7 lists ...", flush=True)
    pool = pool_build(args.searches, weaker, seed=args.seed, size=size)
    print(f"[power] {args.experiments} simulated experiments per sample size ...", flush=True)
    rows = figures(pool, experiments=args.experiments, seed=args.seed, cap=args.cap)
    lines = table(rows)
    notes = (
        f"Measured {time.strftime('%Y-%m-%d')} by `bench/experiment_power.py` ({'smoke' if args.smoke else 'default shop, seed 42'}; "
        f"a pool of {args.searches:,} simulated searches, {args.experiments} experiments per size, alpha {ALPHA}, "
        f"power {POWER:.0%}; A/B: users drawn whole, {len(pool.users) / len(np.unique(pool.users)):.0f} searches "
        f"per user on average; {time.perf_counter() - started:.0f} s)."
    )
    print("\n" + "\n".join(lines) + "\n\n" + notes)
    if args.output:
        from bench.bench_docs import block_write

        block_write(Path(args.output), lines, notes, label="experiment-power")


if __name__ == "__main__":
    main()
