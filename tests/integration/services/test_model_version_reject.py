import pytest

from ranking.errors import RegistryError
from ranking.models import ModelStatus
from ranking.services import model_version_archive, model_version_reject
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [ModelStatus.CANDIDATE, ModelStatus.ARCHIVED])
def test_a_candidate_or_archived_version_can_be_rejected_with_a_reason(status):
    model_version = ModelVersionFactory(status=status)

    rejected = model_version_reject(version=model_version.version, actor="cli", reason="worse than bm25")

    assert rejected.status == ModelStatus.REJECTED
    [transition] = rejected.transitions.all()
    assert (transition.kind, transition.from_status, transition.reason) == (
        "reject",
        status,
        "worse than bm25",
    )


def test_the_production_version_cannot_be_rejected_directly():
    model_version = ModelVersionFactory(status=ModelStatus.PRODUCTION)

    with pytest.raises(RegistryError, match="is production"):
        model_version_reject(version=model_version.version, actor="cli", reason="bad")
    model_version.refresh_from_db()
    assert model_version.status == ModelStatus.PRODUCTION


def test_archiving_retires_a_candidate_but_never_the_production_version():
    candidate = ModelVersionFactory()
    production = ModelVersionFactory(status=ModelStatus.PRODUCTION)

    assert model_version_archive(version=candidate.version, actor="cli", reason="stale").status == "archived"
    with pytest.raises(RegistryError):
        model_version_archive(version=production.version, actor="cli", reason="stale")
