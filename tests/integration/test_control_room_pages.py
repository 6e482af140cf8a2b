"""The control room's pages for people: the landing page, the metric history's charts and CSV,
the version page's report sections, and the smaller fixes (one kind of API key, titled list
pages, a schema a browser shows)."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework_api_key.models import APIKey

from ranking.selectors import model_version_production_periods_get
from ranking.services import model_version_promote, model_version_register, model_version_rollback
from tests.registry_factories import ModelVersionFactory, register_kwargs, report_build, tiny_model_text

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Without DEBUG the settings use WhiteNoise's manifest storage, which needs collectstatic."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def url(name: str, *args) -> str:
    return reverse(f"admin:ranking_modelversion_{name}", args=args)


def registered(count: int) -> list[int]:
    """``count`` versions registered through the registry (so the audit trail has them), each
    with a report."""
    return [
        model_version_register(
            **register_kwargs(model_text=tiny_model_text(seed), report=report_build(ndcg=0.4 + seed / 100))
        ).version
        for seed in range(count)
    ]


# -- the landing page ------------------------------------------------------------------------


def test_the_landing_page_says_what_searchop_is_and_links_everything_but_shows_no_status_to_strangers(client):
    page = client.get("/").content.decode()

    assert "ranks a shop's search results" in page
    for link in ("/admin/", "/api/docs/", "/api/schema/", "/metrics", "/readme/"):
        assert f'href="{link}"' in page
    assert "Production model" not in page
    assert "Log in" in page


def test_staff_see_the_production_version_the_last_run_and_the_next_scheduled_run(admin_client):
    _first, second = registered(2)
    model_version_promote(version=second, actor="test", reason="the better one")

    page = admin_client.get("/").content.decode()

    assert "Production model" in page
    assert f">v{second}</a>" in page
    assert "Next pipeline run" in page
    assert "UTC" in page  # the seeded weekly schedule's next firing
    assert "none running" in page  # no experiment


def test_the_admins_view_site_link_lands_on_the_landing_page(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()

    assert 'href="/"' in index
    assert admin_client.get("/").status_code == 200


def test_the_readme_is_served_as_text(client):
    response = client.get("/readme/")

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"".join(response.streaming_content).startswith(b"# SearchOp")


# -- the metric history -----------------------------------------------------------------------


def test_the_metric_history_draws_both_charts_with_a_point_per_version_and_shades_production(admin_client):
    first, second = registered(2)
    model_version_promote(version=first, actor="test", reason="first")
    model_version_promote(version=second, actor="test", reason="second")

    page = admin_client.get(url("metric_history")).content.decode()

    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2
    assert 'class="band"' in page
    assert f"v{second} in production" in page
    assert "model NDCG@10" in page
    assert "model debiased" in page
    assert 'class="point"' in page
    assert "?format=csv" in page


def test_the_metric_history_csv_has_every_column_and_a_row_per_version(admin_client):
    ModelVersionFactory(
        report=report_build(ndcg=0.5123, bm25=0.4), decision={"action": "rejected", "reason": "r"}
    )
    ModelVersionFactory(report={})

    response = admin_client.get(url("metric_history"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))

    assert response["Content-Type"].startswith("text/csv")
    header = rows[0]
    assert "baselines:_ndcg@10:_oracle" in header
    assert "model_minus_bm25:_ndcg@10_interval_low" in header
    assert len(rows) == 3
    newest_first = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert newest_first["1"]["model:_ndcg@10"] == "0.512300"
    assert newest_first["1"]["decision"] == "rejected"
    assert newest_first["2"]["model:_ndcg@10"] == ""


def test_production_periods_open_at_a_promotion_and_close_when_the_version_leaves_production():
    first, second = registered(2)
    model_version_promote(version=first, actor="test", reason="first")
    model_version_promote(version=second, actor="test", reason="second")
    model_version_rollback(actor="test", reason="back")

    periods = model_version_production_periods_get()

    assert [(period.version, period.end is None) for period in periods] == [
        (first, False),
        (second, False),
        (first, True),
    ]
    assert periods[0].end <= periods[1].start


# -- the version page -------------------------------------------------------------------------


def test_the_version_page_reads_the_report_as_tables_with_how_to_read_it(admin_client):
    version = ModelVersionFactory(
        report=report_build(ndcg=0.5123, bm25=0.4),
        windows={
            "features_until": "2026-09-01T00:00:00+00:00",
            "eval": ["2026-08-25T00:00:00", "2026-09-01T00:00:00"],
        },
        counts={"eval_lists_with_click": 1234},
    )

    page = admin_client.get(url("change", version.pk)).content.decode()

    assert "Every ranker on the same evaluation lists" in page
    assert "0.5123" in page
    assert "does not apply to these lists" in page  # no production model in this report
    assert "the promotion decision uses it" in page
    assert "only on synthetic data" in page
    assert "1,234" in page
    assert url("report_json", version.pk) in page
    assert '"metrics": {' not in page  # the raw JSON is one click away, not on the page


def test_feature_importance_is_a_bar_chart_of_gain_largest_first(admin_client):
    version = ModelVersionFactory(feature_importance={"small": 1.0, "large": 50.0, "middle": 7.5})

    page = admin_client.get(url("change", version.pk)).content.decode()

    assert "total gain" in page
    assert page.index("large: 50.0") < page.index("middle: 7.5") < page.index("small: 1.0")


def test_the_raw_report_is_one_click_away_as_json(admin_client):
    version = ModelVersionFactory(report=report_build(ndcg=0.5123))

    response = admin_client.get(url("report_json", version.pk))
    download = admin_client.get(url("report_json", version.pk), {"download": "1"})

    assert response.json()["metrics"]["model"]["ndcg@10"] == 0.5123
    assert "attachment" in download["Content-Disposition"]


# -- smaller fixes ----------------------------------------------------------------------------


def test_the_admin_offers_one_kind_of_api_key_the_one_the_api_accepts(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()

    assert not admin.site.is_registered(APIKey)
    assert reverse("admin:ranking_apiclient_changelist") in index
    assert "/admin/rest_framework_api_key/" not in index


@pytest.mark.parametrize(
    ("changelist", "title"),
    [
        ("admin:ranking_modelversion_changelist", "Model versions"),
        ("admin:ranking_apiclient_changelist", "API clients"),
        ("admin:training_pipelinerun_changelist", "Pipeline runs"),
        ("admin:catalog_event_changelist", "Events"),
    ],
)
def test_list_pages_are_titled_by_what_they_list(admin_client, changelist, title):
    page = admin_client.get(reverse(changelist)).content.decode()

    assert f"<h1>{title}</h1>" in page
    assert "Select " not in page.split("<h1>")[1].split("</h1>")[0]


def test_a_browser_is_shown_the_schema_as_json_and_yaml_stays_one_parameter_away(client):
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    shown = client.get("/api/schema/", HTTP_ACCEPT=browser_accept)
    yaml = client.get("/api/schema/", {"format": "yaml"})

    assert shown["Content-Type"] == "application/json"
    assert shown.json()["paths"]["/api/rank"]
    assert yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.content.startswith(b"openapi:")


def test_a_viewer_without_staff_status_cannot_reach_the_report(client):
    version = ModelVersionFactory()
    User.objects.create_user("someone", password="x")
    client.login(username="someone", password="x")

    assert client.get(url("report_json", version.pk)).status_code == 302
