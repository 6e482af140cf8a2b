"""The control room's compare page and query playground on a small generated shop with two
real trained versions (v1 in production, v2 trained with fewer trees): the pages a search
team uses to set two versions side by side and to try a query by hand."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from prometheus_client import REGISTRY

from catalog.models import SearchRequest
from catalog.search import product_candidates_search
from catalog.services import synthetic_data_generate
from ranking.models import FeatureSet
from ranking.services import model_version_promote, serving_features_build
from tests.integration.api.support import serve_current, worker_state_reset
from training.services import model_train

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

COMPARE = "admin:ranking_modelversion_compare"
PLAYGROUND = "/admin/ranking/playground/"


@pytest.fixture
def two_versions(small_config, settings, tmp_path):
    """v1 (20 rounds) in production, v2 (10 rounds) a candidate, the serving features built
    and loaded as a web worker would hold them."""
    settings.SEARCHOP_VAR_DIR = tmp_path / "var"
    cache.clear()  # comparisons are cached by model text and window: the same in every run
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 100}
    synthetic_data_generate(config=small_config)
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    first = model_train().version
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 10}
    second = model_train().version
    model_version_promote(version=first.version, actor="test", reason="the compare page's baseline")
    serving_features_build()
    worker_state_reset()
    serve_current()
    yield first, second
    worker_state_reset()


@pytest.fixture
def outsider(client):
    """A logged-in user who is not staff."""
    client.force_login(User.objects.create_user("shopper", password="x"))
    return client


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(user)
    return client


def test_the_compare_page_shows_both_versions_metrics_and_a_paired_difference_interval(viewer, two_versions):
    first, second = two_versions
    url = reverse(COMPARE)

    before = viewer.get(url, {"a": first.version, "b": second.version})
    page = viewer.get(url, {"a": first.version, "b": second.version, "paired": "1"})

    assert before.status_code == 200
    assert "Score both on the same lists" in before.content.decode()
    assert page.status_code == 200
    paired = page.context["paired"]
    assert paired["lists"] > 0
    ndcg = next(row for row in page.context["paired_rows"] if row.label == "ndcg@10")
    assert ndcg.a is not None
    assert ndcg.b is not None
    assert ndcg.interval[0] <= ndcg.a - ndcg.b <= ndcg.interval[1]
    own = {row.label: row for row in page.context["own_metrics"]}
    assert own["ndcg@10"].a == pytest.approx(first.report["metrics"]["model"]["ndcg@10"])
    assert own["ndcg@10"].b == pytest.approx(second.report["metrics"]["model"]["ndcg@10"])
    html = page.content.decode()
    assert 'id="paired-metrics"' in html
    assert "<svg" in html


def test_the_compare_page_highlights_the_hyperparameters_that_differ(viewer, two_versions):
    first, second = two_versions

    page = viewer.get(reverse(COMPARE), {"a": first.version, "b": second.version})

    differing = {row.name for row in page.context["hyperparameters"] if row.differs}
    assert "num_boost_round" in differing or any("round" in name for name in differing), differing
    assert 'class="differs"' in page.content.decode()


def test_the_version_page_links_to_a_comparison_with_production(viewer, two_versions):
    _, second = two_versions

    page = viewer.get(reverse("admin:ranking_modelversion_change", args=[second.pk]))
    compare = viewer.get(reverse(COMPARE), {"a": second.version})

    assert f"{reverse(COMPARE)}?a={second.version}" in page.content.decode()
    assert compare.context["b"].status == "production"


def test_the_playground_ranks_full_text_candidates_side_by_side_and_logs_nothing(viewer, two_versions):
    first, second = two_versions
    query = _a_query_with_matches()
    requests_before = SearchRequest.objects.count()
    observed_before = rank_observations()

    page = viewer.get(PLAYGROUND, {"q": query, "other": f"v{second.version}"})

    assert page.status_code == 200
    result = page.context["result"]
    assert [row.product_id for row in result.rows]
    assert {row.product_id for row in result.rows} == set(product_candidates_search(query=query))
    assert result.production_label == f"production (v{first.version})"
    assert result.other_label == f"v{second.version}"
    assert [row.production_rank for row in result.rows] == list(range(1, len(result.rows) + 1))
    assert sorted(row.other_rank for row in result.rows) == list(range(1, len(result.rows) + 1))
    for row in result.rows:
        assert row.rank_change == row.production_rank - row.other_rank
    assert not any(row.explained for row in result.rows)
    assert "why=" in page.content.decode()
    assert SearchRequest.objects.count() == requests_before
    assert rank_observations() == observed_before


def test_the_playground_explains_a_product_on_demand_by_both_models(viewer, two_versions):
    _, second = two_versions
    query = _a_query_with_matches()
    first_page = viewer.get(PLAYGROUND, {"q": query, "other": f"v{second.version}"})
    asked = first_page.context["result"].rows[-1].product_id

    page = viewer.get(PLAYGROUND, {"q": query, "other": f"v{second.version}", "why": asked})

    explained = [row for row in page.context["result"].rows if row.explained]
    assert [row.product_id for row in explained] == [asked]
    for explanation in (explained[0].production_explanation, explained[0].other_explanation):
        up, down = explanation
        assert up or down
        assert all(item.contribution > 0 for item in up)
        assert all(item.contribution < 0 for item in down)
    assert 'class="explanation"' in page.content.decode()


def test_the_playground_puts_a_baseline_beside_production(viewer, two_versions):
    page = viewer.get(PLAYGROUND, {"q": _a_query_with_matches(), "other": "popularity"})

    result = page.context["result"]
    assert result.other_label == "popularity"
    assert result.rows[0].other_score == result.rows[0].other_score  # a number, not NaN
    assert {row.other_rank for row in result.rows} == set(range(1, len(result.rows) + 1))


def test_people_who_are_not_staff_are_refused_both_pages(outsider):
    compare = outsider.get(reverse(COMPARE), {"a": 1, "b": 2})
    playground = outsider.get(PLAYGROUND, {"q": "shoes"})

    assert compare.status_code == 302
    assert "/login/" in compare["Location"]
    assert playground.status_code == 302
    assert "/login/" in playground["Location"]


def test_staff_without_the_registry_view_permission_are_refused_the_playground(client):
    client.force_login(User.objects.create_user("clerk", password="x", is_staff=True))

    assert client.get(PLAYGROUND, {"q": "shoes"}).status_code == 403


def test_without_the_windows_evaluation_features_the_page_says_so_and_the_command_builds_them(
    viewer, two_versions
):
    first, second = two_versions
    FeatureSet.objects.filter(purpose=FeatureSet.Purpose.EVAL).delete()
    query = {"a": first.version, "b": second.version}
    out = io.StringIO()

    refused = viewer.get(reverse(COMPARE), {**query, "paired": "1"})
    call_command("compare_models", str(first.version), str(second.version), stdout=out)
    page = viewer.get(reverse(COMPARE), query)

    assert "not built yet" in refused.context["problem"]
    assert refused.context["paired"] is None
    assert "95% interval" in out.getvalue()
    assert FeatureSet.objects.filter(purpose=FeatureSet.Purpose.EVAL, status=FeatureSet.Status.READY).exists()
    assert page.context["paired"]["lists"] > 0  # from the cache the command filled


def rank_observations() -> float:
    """Rank requests observed for Prometheus so far (the latency histogram's count), all labels."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "searchop_rank_latency_seconds"
        for sample in metric.samples
        if sample.name.endswith("_count")
    )


def _a_query_with_matches() -> str:
    """The most frequent logged query of the generated shop (it matches its products)."""
    query = (
        SearchRequest.objects.exclude(query_norm="")
        .values_list("query_norm", flat=True)
        .order_by("id")
        .first()
    )
    assert query
    return query
