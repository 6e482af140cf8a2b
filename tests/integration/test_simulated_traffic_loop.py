"""The loop closes: ``simulate_traffic`` and then ``run_pipeline`` trains on the simulated
traffic, whose lists appear in the run's training counts.

The simulated events carry the current time, and a pipeline run evaluates on the last
``SEARCHOP_EVAL_DAYS`` before its newest event: traffic of today is trained on by the runs
of a fortnight later. So the shop's history here runs three weeks past today (the events of
the weeks to come are generated too), which puts today in the next run's training window,
before its validation days: the run a fortnight from now, without waiting for it.

Committed rows (``transaction=True``): the in-process serving state loads in a thread."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from django.core.management import call_command

from catalog.models import Event, SearchRequest
from catalog.services import synthetic_data_generate
from tests.integration.api.support import worker_state_reset
from training.models import PipelineRun
from training.selectors import lists_get
from training.services.datasets import windows_compute

pytestmark = pytest.mark.django_db(transaction=True)
SEARCHES = 200


@pytest.fixture
def shop_around_today(small_config, settings, tmp_path):
    settings.SEARCHOP_VAR_DIR = tmp_path / "var"
    settings.SEARCHOP_COMPILED_INFERENCE = False
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 100}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = replace(small_config, start=today - timedelta(days=21), days=42)
    synthetic_data_generate(config=config)
    worker_state_reset()
    yield config
    worker_state_reset()


def training_lists_now() -> tuple[int, int]:
    """(lists, lists with a click) of the next run's training part, as the data stands."""
    windows = windows_compute()
    lists = lists_get(since=windows.train_start, until=windows.train_end)
    train = lists[lists["timestamp"] < pd.Timestamp(windows.validation_start)]
    clicked = train[train["label"] > 0]
    return train["request_id"].nunique(), clicked["request_id"].nunique()


def test_the_next_pipeline_run_trains_on_the_simulated_traffic(shop_around_today):
    config = shop_around_today
    windows = windows_compute()
    assert windows.train_start <= datetime.now(UTC) < windows.validation_start  # the premise
    lists_before, clicked_before = training_lists_now()

    call_command(
        "simulate_traffic",
        searches=SEARCHES,
        seed=21,
        shop_seed=config.seed,
        products=config.products,
        categories=config.categories,
        users=config.users,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    simulated = SearchRequest.objects.filter(source=SearchRequest.Source.API).values("request_id")
    simulated_with_click = (
        Event.objects.filter(request_id__in=simulated, event_type="click")
        .values("request_id")
        .distinct()
        .count()
    )
    assert simulated_with_click > 0

    out = io.StringIO()
    call_command("run_pipeline", "--json", stdout=out)
    report = json.loads(out.getvalue())

    assert windows_compute() == windows  # the simulated traffic moved no window
    counts = report["counts"]
    assert counts["train_lists"] == lists_before + SEARCHES
    assert counts["train_lists_with_click"] == clicked_before + simulated_with_click
    run = PipelineRun.objects.get()
    assert run.counts["train_lists"] == lists_before + SEARCHES  # what the run's page shows
