"""Experiments in the admin: the list, the running experiment's live page, starting one from a
version's page and stopping it, behind the permission that promotes models."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from ranking.models import Experiment, ExperimentStatus, ModelStatus
from tests.integration.experiments.support import interleaved_searches, launch
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:ranking_experiment_{name}", args=args)


@pytest.fixture
def production():
    return ModelVersionFactory(status=ModelStatus.PRODUCTION)


@pytest.fixture
def viewer(client):
    """Staff who may look at experiments and models but not operate them."""
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_experiment", "view_modelversion"])
    )
    client.force_login(user)
    return client


def test_the_list_shows_every_experiment_with_its_sides_status_and_decision(admin_client, production):
    launch(kind="shadow", challenger="bm25")
    experiment_stop_reason = "enough"
    admin_client.post(url("stop", Experiment.objects.get().pk), {"reason": experiment_stop_reason})
    launch(kind="ab", challenger="random", traffic=0.3)

    page = admin_client.get(url("changelist")).content.decode()

    assert "shadow" in page
    assert "random" in page
    assert "30%" in page
    assert url("running") in page
    assert url("start") in page


def test_the_running_page_shows_the_live_counts_and_the_result_so_far(admin_client, production):
    experiment = launch(kind="interleaving", challenger="bm25", traffic=0.5)
    interleaved_searches(experiment, wins=30, losses=10, ties=5)

    page = admin_client.get(url("running")).content.decode()

    assert "Result so far (computed now)" in page
    assert "<td>45</td>" in page  # searches
    assert "<td>30</td>" in page  # wins
    assert "<td>10</td>" in page  # losses
    assert "+0.4444" in page  # (30 - 10) / 45
    assert url("stop", experiment.pk) in page


def test_the_running_page_says_so_when_nothing_runs(viewer):
    assert "No experiment is running" in viewer.get(url("running")).content.decode()


def test_a_version_page_offers_to_start_an_experiment_with_it(admin_client, production):
    candidate = ModelVersionFactory()

    page = admin_client.get(
        reverse("admin:ranking_modelversion_change", args=[candidate.pk])
    ).content.decode()
    form = admin_client.get(url("start") + f"?challenger=v{candidate.version}").content.decode()

    assert f"{url('start')}?challenger=v{candidate.version}" in page
    assert f'value="v{candidate.version}"' in form


def test_starting_from_the_admin_starts_it_and_records_who(admin_client, admin_user, production):
    candidate = ModelVersionFactory()

    response = admin_client.post(
        url("start"),
        {
            "kind": "interleaving",
            "challenger": f"v{candidate.version}",
            "control": "production",
            "traffic": "0.2",
        },
    )

    assert response.status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.status, experiment.challenger_version, experiment.traffic) == (
        "running",
        candidate,
        0.2,
    )
    assert (experiment.created_by, experiment.user) == (f"admin:{admin_user.username}", admin_user)


def test_a_refused_start_shows_why_and_starts_nothing(admin_client, production):
    response = admin_client.post(
        url("start"), {"kind": "interleaving", "challenger": "v99", "control": "production", "traffic": "0.2"}
    )

    assert response.status_code == 200
    assert "There is no model version v99" in response.content.decode()
    assert not Experiment.objects.exists()


def test_stopping_asks_for_a_reason_and_records_it(admin_client, production):
    experiment = launch(kind="shadow", challenger="bm25")

    assert "Reason" in admin_client.get(url("stop", experiment.pk)).content.decode()
    admin_client.post(url("stop", experiment.pk), {"reason": "checked enough"})

    experiment.refresh_from_db()
    assert (experiment.status, experiment.stop_reason) == (ExperimentStatus.STOPPED, "checked enough")
    page = admin_client.get(url("change", experiment.pk)).content.decode()
    assert "checked enough" in page


def test_without_the_promote_permission_one_can_look_but_not_start_or_stop(viewer, production):
    experiment = launch(kind="shadow", challenger="bm25")

    assert viewer.get(url("change", experiment.pk)).status_code == 200
    assert viewer.get(url("start")).status_code == 403
    assert viewer.post(url("stop", experiment.pk), {"reason": "x"}).status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.RUNNING
