"""A search served in an experiment is logged with its experiment, arm and what the report
needs of it, by both writers of the impression log: the batch's COPY and the ORM's INSERT
(``ranking.serving.impression_log``). The generator and imports, which do not know these
columns, still write rows (the columns have database defaults)."""

from __future__ import annotations

import pandas as pd
import pytest
from django.utils import timezone

from catalog.loading import search_requests_load
from catalog.models import SearchRequest
from ranking.experiments.routing import Exposure
from ranking.serving.impression_log import LoggedRequest, impression_log_record, search_requests_write

pytestmark = pytest.mark.django_db

INTERLEAVED = Exposure(experiment_id=4, arm="interleaved", teams="=AB", challenger_seconds=0.0007)
SHADOWED = Exposure(experiment_id=4, arm="shadow", shadow_ids=["c", "b", "a"], challenger_error="")
FAILED = Exposure(experiment_id=4, arm="challenger", challenger_error="not loaded")


SERVED = {
    "query": "q",
    "query_norm": "q",
    "user_id": "U1",
    "session_id": "",
    "product_ids": ["a", "b", "c"],
    "model_version": 3,
    "fallback": False,
}


def request(request_id: str, exposure: Exposure | None) -> LoggedRequest:
    extra = exposure._asdict() if exposure else {}
    return LoggedRequest(request_id=request_id, timestamp=timezone.now(), **SERVED, **extra)


def stored(request_id: str) -> tuple:
    return SearchRequest.objects.values_list(
        "experiment_id", "arm", "teams", "shadow_ids", "challenger_seconds", "challenger_error"
    ).get(request_id=request_id)


def test_the_batch_copy_writes_each_exposure_and_leaves_other_rows_empty():
    search_requests_write(
        [request("r1", INTERLEAVED), request("r2", SHADOWED), request("r3", FAILED), request("r4", None)]
    )

    assert stored("r1") == (4, "interleaved", "=AB", None, 0.0007, "")
    assert stored("r2") == (4, "shadow", "", ["c", "b", "a"], None, "")
    assert stored("r3") == (4, "challenger", "", None, None, "not loaded")
    assert stored("r4") == (None, "", "", None, None, "")


def test_the_orm_path_writes_the_same(settings):
    settings.SEARCHOP_IMPRESSION_LOG = "sync"
    for request_id, exposure in (("r1", INTERLEAVED), ("r2", SHADOWED), ("r4", None)):
        impression_log_record(request_id=request_id, **SERVED, exposure=exposure)

    assert stored("r1") == (4, "interleaved", "=AB", None, 0.0007, "")
    assert stored("r2") == (4, "shadow", "", ["c", "b", "a"], None, "")
    assert stored("r4") == (None, "", "", None, None, "")


def test_writers_that_do_not_know_the_experiment_columns_still_write_rows():
    search_requests_load(
        pd.DataFrame(
            {
                "request_id": ["g1"],
                "timestamp": [timezone.now()],
                "query": ["q"],
                "query_norm": ["q"],
                "user_id": ["U1"],
                "session_id": ["s"],
                "product_ids": [["a", "b"]],
            }
        )
    )

    assert stored("g1") == (None, "", "", None, None, "")
