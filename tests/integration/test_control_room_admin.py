import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse

from ranking.models import ModelStatus, ModelVersion, ModelVersionTransition
from ranking.selectors import model_version_production_get
from tests.registry_factories import ModelVersionFactory, report_build

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]

CHANGELIST = "admin:ranking_modelversion_changelist"


def url(name: str, *args) -> str:
    return reverse(f"admin:ranking_modelversion_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Without DEBUG the settings use WhiteNoise's manifest storage, which needs collectstatic
    to have run; admin pages under test only need URLs for their static files."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def viewer(client):
    """A staff user who may look at the registry but not change it."""
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client.force_login(user)
    return client


def test_the_changelist_shows_versions_with_status_metrics_and_decision(admin_client):
    ModelVersionFactory(
        report=report_build(ndcg=0.5123, bm25=0.4), decision={"action": "promoted", "reason": "ok"}
    )
    ModelVersionFactory(status=ModelStatus.PRODUCTION, report={"metrics": None})

    page = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert "v1" in page
    assert "0.5123" in page
    assert "+0.1123" in page  # ndcg@10 − bm25
    assert "promoted" in page
    assert "#2e7d32" in page  # production in green
    assert url("metric_history") in page
    assert url("rollback") in page


def test_the_detail_page_shows_key_metrics_sha_size_and_the_audit_trail_but_not_the_model_text(admin_client):
    model_version = ModelVersionFactory(report=report_build(ndcg=0.5123))
    admin_client.post(url("promote", model_version.pk), {"reason": "first model"})

    page = admin_client.get(url("change", model_version.pk)).content.decode()

    assert "0.5123" in page
    assert model_version.model_sha256 in page
    assert f"{len(model_version.model_text.encode()):,} bytes" in page
    assert "first model" in page  # the audit trail
    assert "Tree=0" not in page
    assert 'name="_save"' not in page  # read-only


def test_the_metric_history_lists_every_version_beside_its_baselines(admin_client):
    ModelVersionFactory(report=report_build(ndcg=0.5123, bm25=0.4))
    ModelVersionFactory(
        report={"metrics": {"model": {"ndcg@10": None}}, "intervals": {"model-bm25": {"ndcg@10": [0.01]}}}
    )
    ModelVersionFactory(report={})

    response = admin_client.get(url("metric_history"))

    page = response.content.decode()
    assert response.status_code == 200
    for text in ("Metric history", "0.5123", "0.4000", "oracle", "[+0.0500, +0.1500]"):
        assert text in page
    for model_version in ModelVersion.objects.all():
        assert f'<a href="{url("change", model_version.pk)}">v{model_version.version}</a>' in page


def test_the_promote_button_asks_for_a_reason_then_promotes_and_writes_the_audit_trail(
    admin_client, admin_user
):
    old = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    new = ModelVersionFactory()

    confirmation = admin_client.get(url("promote", new.pk))
    assert confirmation.status_code == 200
    assert "csrfmiddlewaretoken" in confirmation.content.decode()
    assert f"v{old.version} will be archived" in " ".join(confirmation.content.decode().split())

    without_reason = admin_client.post(url("promote", new.pk), {"reason": "  "})
    assert without_reason.status_code == 200
    assert model_version_production_get() == old

    response = admin_client.post(url("promote", new.pk), {"reason": "better on every segment"})

    assert response.status_code == 302
    assert model_version_production_get() == new
    promotion = ModelVersionTransition.objects.get(kind="promote")
    assert (promotion.user, promotion.actor, promotion.reason, promotion.replaced) == (
        admin_user,
        "admin:admin",
        "better on every segment",
        old,
    )
    assert messages_of(response) == ["v2 is now in production. v1 is archived."]


def test_a_failed_promotion_is_reported_and_changes_nothing(admin_client):
    broken = ModelVersionFactory()
    ModelVersion.objects.filter(pk=broken.pk).update(model_sha256="0" * 64)

    response = admin_client.post(url("promote", broken.pk), {"reason": "try"}, follow=True)

    assert "failed verification" in messages_of(response)[0]
    assert model_version_production_get() is None


def test_the_rollback_button_restores_the_previous_version_and_writes_the_audit_trail(admin_client):
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()
    admin_client.post(url("promote", v1.pk), {"reason": "first"})
    admin_client.post(url("promote", v2.pk), {"reason": "second"})

    confirmation = admin_client.get(url("rollback")).content.decode()
    assert "Roll back to v1" in confirmation

    response = admin_client.post(url("rollback"), {"reason": "ctr dropped"})

    assert model_version_production_get() == v1
    assert ModelVersionTransition.objects.filter(
        kind="rollback", model_version=v2, actor="admin:admin"
    ).exists()
    assert messages_of(response) == ["v1 is now in production. v2 is archived."]


def test_the_rollback_page_says_when_there_is_nothing_to_roll_back(admin_client):
    page = admin_client.get(url("rollback")).content.decode()
    assert "nothing to roll back" in page
    assert "<form" not in page.split('id="content-main"')[1]

    response = admin_client.post(url("rollback"), {"reason": "panic"}, follow=True)
    assert "nothing to roll back" in messages_of(response)[0]


def test_the_promote_action_needs_exactly_one_version(admin_client):
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()

    two = admin_client.post(
        reverse(CHANGELIST), {"action": "promote_selected", "_selected_action": [v1.pk, v2.pk]}, follow=True
    )
    assert "exactly one" in messages_of(two)[0]

    one = admin_client.post(reverse(CHANGELIST), {"action": "promote_selected", "_selected_action": [v1.pk]})
    assert one.status_code == 302
    assert one.url == url("promote", v1.pk)


def test_the_reject_action_asks_for_a_reason_then_rejects_and_reports_what_it_could_not(admin_client):
    candidate = ModelVersionFactory()
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    selected = {"action": "reject_selected", "_selected_action": [candidate.pk, production.pk]}

    confirmation = admin_client.post(reverse(CHANGELIST), selected)
    assert confirmation.status_code == 200
    assert "Reason" in confirmation.content.decode()

    response = admin_client.post(
        reverse(CHANGELIST), {**selected, "confirm": "yes", "reason": "leaks the label"}, follow=True
    )

    candidate.refresh_from_db()
    production.refresh_from_db()
    assert (candidate.status, production.status) == (ModelStatus.REJECTED, ModelStatus.PRODUCTION)
    assert ModelVersionTransition.objects.get(kind="reject").reason == "leaks the label"
    assert messages_of(response) == [
        "Rejected 1 version(s): v1.",
        "v2 is production; only a version that is candidate or archived can be rejected.",
    ]


def test_a_viewer_sees_the_control_room_but_cannot_operate_it(viewer):
    model_version = ModelVersionFactory()

    assert viewer.get(reverse(CHANGELIST)).status_code == 200
    assert viewer.get(url("metric_history")).status_code == 200
    assert (
        url("promote", model_version.pk) not in viewer.get(url("change", model_version.pk)).content.decode()
    )
    assert viewer.get(url("promote", model_version.pk)).status_code == 403
    assert viewer.post(url("promote", model_version.pk), {"reason": "sneaky"}).status_code == 403
    assert viewer.post(url("rollback"), {"reason": "sneaky"}).status_code == 403
    assert model_version_production_get() is None


def test_the_audit_trail_has_its_own_read_only_list(admin_client):
    model_version = ModelVersionFactory()
    admin_client.post(url("promote", model_version.pk), {"reason": "first model"})

    page = admin_client.get(reverse("admin:ranking_modelversiontransition_changelist")).content.decode()

    assert "first model" in page
    assert "admin:admin" in page


def test_the_promote_page_of_an_unknown_version_goes_back_to_the_list(admin_client):
    response = admin_client.get(url("promote", 999), follow=True)

    assert response.redirect_chain[-1][0] == reverse(CHANGELIST)
    assert messages_of(response) == ["There is no model version with id 999."]
