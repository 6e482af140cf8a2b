import pytest

from ranking.errors import ModelVerificationError, NothingToRollBack
from ranking.models import ModelStatus, ModelVersion, ModelVersionTransition
from ranking.selectors import model_version_production_get, model_version_rollback_target_get
from ranking.services import model_version_promote, model_version_reject, model_version_rollback
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def promote(model_version: ModelVersion) -> None:
    model_version_promote(version=model_version.version, actor="test", reason="better")


def rollback() -> ModelVersion:
    return model_version_rollback(actor="test", reason="ctr dropped")


def production_version() -> int | None:
    production = model_version_production_get()
    return production.version if production else None


def test_it_restores_the_version_the_current_one_replaced_and_records_both_transitions(admin_user):
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()
    promote(v1)
    promote(v2)

    restored = model_version_rollback(user=admin_user, actor="admin:admin", reason="ctr dropped")

    assert restored == v1
    v2.refresh_from_db()
    assert (production_version(), v2.status) == (1, ModelStatus.ARCHIVED)
    demotion, restoration = ModelVersionTransition.objects.order_by("-id")[:2][::-1]
    assert (demotion.model_version, demotion.kind, demotion.from_status, demotion.to_status) == (
        v2,
        "rollback",
        "production",
        "archived",
    )
    assert demotion.reason == "ctr dropped"
    assert (restoration.model_version, restoration.kind, restoration.replaced) == (v1, "promote", v2)
    assert restoration.reason == "rollback from v2: ctr dropped"
    assert demotion.user == restoration.user == admin_user


def test_rolling_back_twice_after_two_promotions_has_no_earlier_version_to_go_to():
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()
    promote(v1)
    promote(v2)
    rollback()

    with pytest.raises(NothingToRollBack, match="no earlier production version"):
        rollback()
    assert production_version() == 1


def test_rollbacks_pop_promotions_like_a_stack():
    v1, v2, v3 = ModelVersionFactory(), ModelVersionFactory(), ModelVersionFactory()
    for model_version in (v1, v2, v3):
        promote(model_version)

    assert rollback() == v2
    assert rollback() == v1
    with pytest.raises(NothingToRollBack):
        rollback()


def test_a_rollback_after_a_new_promotion_returns_to_the_restored_version():
    v1, v2, v3 = ModelVersionFactory(), ModelVersionFactory(), ModelVersionFactory()
    promote(v1)
    promote(v2)
    rollback()  # v1 again
    promote(v3)

    assert rollback() == v1


def test_a_version_promoted_again_after_its_rollback_can_be_rolled_back_to():
    v1, v2, v3 = ModelVersionFactory(), ModelVersionFactory(), ModelVersionFactory()
    promote(v1)
    promote(v2)
    rollback()  # v2 was bad ...
    promote(v2)  # ... until someone fixed what it depended on and promoted it again
    promote(v3)

    assert rollback() == v2


def test_it_passes_over_rejected_versions():
    v1, v2, v3 = ModelVersionFactory(), ModelVersionFactory(), ModelVersionFactory()
    for model_version in (v1, v2, v3):
        promote(model_version)
    model_version_reject(version=v2.version, actor="test", reason="leaks the label")

    assert rollback() == v1


def test_without_a_production_version_there_is_nothing_to_roll_back():
    ModelVersionFactory(status=ModelStatus.ARCHIVED)

    with pytest.raises(NothingToRollBack, match="no production version"):
        rollback()


def test_the_first_production_version_has_nothing_to_roll_back_to():
    promote(ModelVersionFactory())
    ModelVersionFactory(status=ModelStatus.ARCHIVED)  # never in production: not a rollback target

    assert model_version_rollback_target_get() is None
    with pytest.raises(NothingToRollBack, match="no earlier production version to roll back to from v1"):
        rollback()


def test_it_refuses_a_target_that_fails_verification_and_changes_nothing():
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()
    promote(v1)
    promote(v2)
    ModelVersion.objects.filter(pk=v1.pk).update(model_sha256="0" * 64)
    transitions = ModelVersionTransition.objects.count()

    with pytest.raises(ModelVerificationError, match="v1 failed verification"):
        rollback()

    assert production_version() == 2
    assert ModelVersionTransition.objects.count() == transitions
