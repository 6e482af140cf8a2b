import lightgbm
import pytest

from ranking.errors import RegistryError
from ranking.models import ModelStatus, ModelVersion
from ranking.services import model_version_register
from tests.registry_factories import TREES, race, register_kwargs, report_build, sha256, tiny_model_text

pytestmark = pytest.mark.django_db


def test_it_stores_a_candidate_with_its_sha_and_tree_count_and_records_the_registration():
    model_version = model_version_register(**register_kwargs())

    model_version.refresh_from_db()
    assert model_version.version == 1
    assert model_version.status == ModelStatus.CANDIDATE
    assert model_version.model_text == tiny_model_text()
    assert model_version.model_sha256 == sha256(tiny_model_text())
    assert model_version.num_trees == TREES == lightgbm.Booster(model_str=tiny_model_text()).num_trees()
    assert model_version.lightgbm_version == lightgbm.__version__
    assert model_version.code_version
    [transition] = model_version.transitions.all()
    assert (transition.kind, transition.from_status, transition.to_status) == ("register", "", "candidate")
    assert (transition.actor, transition.reason) == ("pipeline", "trained")


def test_version_numbers_are_unique_and_increasing():
    versions = [model_version_register(**register_kwargs()).version for _ in range(3)]
    assert versions == [1, 2, 3]


def test_it_takes_the_decision_from_the_report():
    model_version = model_version_register(**register_kwargs(report=report_build()))
    assert model_version.decision == {"action": "promoted", "reason": "beats production and bm25"}


def test_it_refuses_a_text_that_is_not_a_lightgbm_model():
    with pytest.raises(RegistryError, match="not a LightGBM model"):
        model_version_register(**register_kwargs(model_text="gbdt, trust me"))
    assert not ModelVersion.objects.exists()


def test_it_refuses_a_data_digest_that_is_not_a_sha256():
    with pytest.raises(RegistryError, match="data_digest"):
        model_version_register(**register_kwargs(data_digest="abc"))


def test_it_requires_a_reason():
    with pytest.raises(RegistryError, match="reason"):
        model_version_register(**register_kwargs(reason=" "))


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_get_unique_consecutive_version_numbers():
    versions, errors = race([lambda: model_version_register(**register_kwargs()).version] * 6)

    assert errors == []
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
