import pytest
from django.db import IntegrityError, transaction

from ranking.errors import ModelVerificationError, ModelVersionNotFound, RegistryError
from ranking.models import ModelStatus, ModelVersion, ModelVersionTransition
from ranking.selectors import model_version_production_get, model_version_production_key_get
from ranking.services import model_version_promote
from tests.registry_factories import ModelVersionFactory, race, tiny_model_text

pytestmark = pytest.mark.django_db


def promote(version: int, **kwargs) -> ModelVersion:
    return model_version_promote(
        version=version, actor="test", reason=kwargs.pop("reason", "better"), **kwargs
    )


def test_the_database_rejects_a_second_production_row():
    ModelVersionFactory(status=ModelStatus.PRODUCTION)
    other = ModelVersionFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=other.pk).update(status=ModelStatus.PRODUCTION)


def test_promoting_the_first_version_records_one_promotion_that_replaced_nothing():
    model_version = ModelVersionFactory()

    promoted = promote(model_version.version)

    assert promoted.status == ModelStatus.PRODUCTION
    assert model_version_production_get() == model_version
    assert model_version_production_key_get() == (model_version.version, model_version.model_sha256)
    [transition] = ModelVersionTransition.objects.all()
    assert (transition.kind, transition.from_status, transition.to_status) == (
        "promote",
        "candidate",
        "production",
    )
    assert transition.replaced is None
    assert (transition.actor, transition.reason) == ("test", "better")


def test_promoting_archives_the_old_production_and_records_both_transitions(admin_user):
    old = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    new = ModelVersionFactory()

    promote(new.version, user=admin_user, reason="ndcg up 3 points")

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (ModelStatus.ARCHIVED, ModelStatus.PRODUCTION)
    archive, promotion = ModelVersionTransition.objects.order_by("id")
    assert (archive.model_version, archive.kind, archive.from_status, archive.to_status) == (
        old,
        "archive",
        "production",
        "archived",
    )
    assert archive.reason == f"replaced by v{new.version}"
    assert (promotion.model_version, promotion.kind, promotion.replaced) == (new, "promote", old)
    assert promotion.reason == "ndcg up 3 points"
    assert archive.user == promotion.user == admin_user


def test_an_archived_version_can_be_promoted_again():
    model_version = ModelVersionFactory(status=ModelStatus.ARCHIVED)
    assert promote(model_version.version).status == ModelStatus.PRODUCTION


def test_promoting_the_production_version_again_is_an_error():
    model_version = ModelVersionFactory(status=ModelStatus.PRODUCTION)

    with pytest.raises(RegistryError, match="already in production"):
        promote(model_version.version)
    assert not ModelVersionTransition.objects.exists()


def test_a_rejected_version_can_never_be_promoted():
    model_version = ModelVersionFactory(status=ModelStatus.REJECTED)

    with pytest.raises(RegistryError, match="rejected"):
        promote(model_version.version)
    model_version.refresh_from_db()
    assert model_version.status == ModelStatus.REJECTED


def test_a_version_that_fails_verification_is_never_promoted():
    old = ModelVersionFactory(status=ModelStatus.PRODUCTION)
    broken = ModelVersionFactory()
    ModelVersion.objects.filter(pk=broken.pk).update(model_text=tiny_model_text()[:-200])

    with pytest.raises(ModelVerificationError):
        promote(broken.version)

    assert model_version_production_get() == old
    assert not ModelVersionTransition.objects.exists()


def test_a_reason_is_required():
    model_version = ModelVersionFactory()
    with pytest.raises(RegistryError, match="reason is required"):
        promote(model_version.version, reason="")


def test_an_unknown_version_is_a_clear_error():
    with pytest.raises(ModelVersionNotFound, match="no model version v9"):
        promote(9)


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_leave_exactly_one_production_and_a_consistent_trail():
    ModelVersionFactory(status=ModelStatus.PRODUCTION)
    contenders = [ModelVersionFactory().version for _ in range(3)]

    _, errors = race([lambda version=version: promote(version) for version in contenders])

    # The registry lock serialises them: each one replaces the one before it.
    assert errors == []
    assert ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).count() == 1
    promotions = list(ModelVersionTransition.objects.filter(kind="promote").order_by("id"))
    archives = list(ModelVersionTransition.objects.filter(kind="archive").order_by("id"))
    assert len(promotions) == len(archives) == 3
    for promotion, archive in zip(promotions, archives, strict=True):
        assert promotion.replaced == archive.model_version
    assert promotions[-1].model_version == model_version_production_get()
