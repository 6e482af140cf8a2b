#!/usr/bin/env python
"""Benchmark of the trainer against a bare ``lightgbm.train`` on the same matrix (a script,
not a test).

    nice .venv/bin/python bench/build_features.py --events 1000000 --generate-only   # the data
    nice .venv/bin/python bench/train.py                    # 1M events
    nice .venv/bin/python bench/train.py --events 10000000

Uses the database ``bench/build_features.py`` fills for that size (``<name>_1m``, ...):

1. ``dataset_build`` as the pipeline calls it, for the pipeline's windows: the two feature
   sets (before T1 and T2), the training and evaluation lists with their matrices, the
   position-bias fit. Reported apart, step by step: this is loading the data, not training.
2. ``ranker_fit`` (``training.trainer.ranker_train`` with the settings' hyperparameters,
   validation set, propensity-weighted NDCG each round, early stopping as configured), for
   both variants the pipeline trains (with and without position-bias correction).
3. Beside each, in the same run and alternating with it: ``booster_train_bare``, a bare
   ``lightgbm.train`` on the same training matrix with the exact params the trainer used
   and the rounds it ran. Both models must predict the same scores (checked).
4. The ratio trainer / bare (the goal is <= 1.2x), in wall time and in the process's CPU
   time (steadier on a shared machine), and a markdown table, also written to
   docs/bench_train.md (one block per size). Best of ``--repeat`` (default 3) for each; the
   load average beside.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_features")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")

from bench.bench_docs import block_write  # noqa: E402
from bench.build_features import (  # noqa: E402 - after the path and environment set-up
    admin_sql,
    database_url,
    load_now,
    size_label,
)

GOAL_RATIO = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="which benchmark database")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench_train.md"))
    args = parser.parse_args()
    url = database_url(os.environ["DATABASE_URL"], size_label(args.events))
    os.environ["DATABASE_URL"] = url
    events = admin_sql(url, "SELECT count(*) FROM catalog_event")[0][0]
    if events < args.events:
        raise SystemExit(
            f"{url} holds {events:,} events: run bench/build_features.py --events {args.events} --generate-only first"
        )

    import django

    django.setup()
    import numpy as np
    from django.conf import settings

    from catalog.progress import Reporter
    from ranking.models import FeatureSet
    from training.services import dataset_build, ranker_fit, windows_compute
    from training.trainer import booster_train_bare

    print(f"{events:,} events in {url.rsplit('/', 1)[1]}; load average {load_now()}", flush=True)
    windows = windows_compute()
    reporter = Reporter.to_stream(sys.stdout)
    load = load_now()
    started = time.perf_counter()
    dataset = dataset_build(windows=windows, reporter=reporter)
    loading_seconds = time.perf_counter() - started
    loading = (loading_seconds, load, list(reporter.history))
    FeatureSet.objects.filter(pk__in=dataset.feature_sets.values()).delete()
    train = dataset.train
    print(
        f"dataset_build {loading_seconds:.1f} s (load {load}): training matrix {train.features.shape[0]:,} rows x "
        f"{train.features.shape[1]} features, {train.num_lists:,} lists; validation {dataset.valid.num_lists:,} lists",
        flush=True,
    )

    config = settings.SEARCHOP_TRAINING
    rows = []
    for position_bias in (config["position_bias"], not config["position_bias"]):
        ours, bare, loads, ours_cpu, bare_cpu = [], [], [], [], []
        same = None
        for attempt in range(1, args.repeat + 1):
            loads.append(load_now())
            cpu = _cpu_seconds()
            result = ranker_fit(dataset=dataset, position_bias=position_bias)
            ours_cpu.append(_cpu_seconds() - cpu)
            # The rounds it ran: the curve's last point is the last round (every round with
            # early stopping, every few otherwise); without a validation set, its trees.
            rounds = (getattr(result, "validation_rounds", None) or [len(result.validation_curve)])[-1]
            rounds = rounds or result.num_trees
            cpu = _cpu_seconds()
            booster, bare_seconds = booster_train_bare(
                train=train, params=result.params, num_boost_round=rounds, position_bias=position_bias
            )
            bare_cpu.append(_cpu_seconds() - cpu)
            ours.append(result.seconds)
            bare.append(bare_seconds)
            if same is None:
                # The trainer keeps the trees up to the best round; compare those.
                mine = result.booster.predict(train.features, num_threads=1)
                theirs = booster.predict(train.features, num_iteration=result.best_iteration, num_threads=1)
                same = float(np.max(np.abs(mine - theirs))) if len(mine) else 0.0
            print(
                f"[{'with' if position_bias else 'without'} position bias, run {attempt}] ranker_fit "
                f"{result.seconds:.2f} s ({rounds} rounds, {result.num_trees} trees kept), bare lightgbm.train "
                f"{bare_seconds:.2f} s; CPU {ours_cpu[-1]:.1f} s and {bare_cpu[-1]:.1f} s, load {loads[-1]}",
                flush=True,
            )
        rows.append(
            {
                "variant": "with position-bias correction"
                if position_bias
                else "without position-bias correction",
                "chosen": position_bias == config["position_bias"],
                "ours": min(ours),
                "bare": min(bare),
                "ours_median": statistics.median(ours),
                "bare_median": statistics.median(bare),
                "ours_cpu": min(ours_cpu),
                "bare_cpu": min(bare_cpu),
                "rounds": rounds,
                "trees": result.num_trees,
                "max_diff": same,
                "loads": loads,
            }
        )

    table, notes = report(args, events, train, dataset, loading, rows, settings)
    print("\n" + "\n".join(table) + "\n\n" + notes)
    if not args.no_write:
        block_write(Path(args.output), table, notes, label=size_label(args.events))


def report(args, events, train, dataset, loading, rows, settings) -> tuple[list[str], str]:
    loading_seconds, loading_load, history = loading
    table = [
        "| step | seconds (best) | median | vs bare `lightgbm.train` (goal <= 1.2x) | CPU s (best) | CPU vs bare | "
        "load 1/5 min |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        chosen = " (the configured one)" if row["chosen"] else ""
        table += [
            f"| `ranker_fit`, {row['variant']}{chosen}: {row['rounds']} rounds | {row['ours']:.2f} | "
            f"{row['ours_median']:.2f} | **{row['ours'] / row['bare']:.2f}x** | {row['ours_cpu']:.1f} | "
            f"{row['ours_cpu'] / row['bare_cpu']:.2f}x | {', '.join(row['loads'])} |",
            f"| bare `lightgbm.train`, same matrix, params and rounds | {row['bare']:.2f} | "
            f"{row['bare_median']:.2f} | 1.00x | {row['bare_cpu']:.1f} | 1.00x | |",
        ]
    table.append(
        f"| loading the data apart: `dataset_build` (2 feature sets, lists, matrices) | {loading_seconds:.1f} | | | | | "
        f"{loading_load} |"
    )
    params = settings.SEARCHOP_LIGHTGBM_PARAMS
    notes = [
        f"{events:,} events (`bench/build_features.py`'s shop: 20,000 products, 100,000 users, seed 42); training "
        f"matrix {train.features.shape[0]:,} rows x {train.features.shape[1]} features in {train.num_lists:,} lists, "
        f"validation {dataset.valid.num_lists:,} lists; {os.cpu_count()} CPUs shared with other jobs, "
        f"Python {platform.python_version()}, LightGBM {_lightgbm_version()}, num_threads={params['num_threads']}, "
        f"num_leaves={params['num_leaves']}, learning_rate={params['learning_rate']}; best of {args.repeat} runs, "
        "the trainer and the bare call alternating.",
        "",
        "Same model: largest difference between the two boosters' scores on the training matrix: "
        + ", ".join(f"{row['variant']} {row['max_diff']:.1e}" for row in rows)
        + ".",
        "",
        "`dataset_build`'s steps:",
        "",
        *(f"    {step['seconds']:7.2f} s  {step['step']}" for step in history),
    ]
    return table, "\n".join(notes)


def _cpu_seconds() -> float:
    """This process's CPU time (all its threads): steadier than wall time on a shared machine,
    where a descheduled OpenMP thread holds the other one up at every barrier."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _lightgbm_version() -> str:
    import lightgbm

    return lightgbm.__version__


if __name__ == "__main__":
    main()
