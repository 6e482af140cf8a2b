import pytest

from ranking.errors import ModelVersionNotFound
from ranking.models import ModelStatus
from ranking.services import model_version_report_attach
from tests.registry_factories import ModelVersionFactory, report_build

pytestmark = pytest.mark.django_db


def test_it_stores_the_report_and_its_decision_without_changing_the_status():
    model_version = ModelVersionFactory(report={}, decision={})

    model_version_report_attach(
        version=model_version.version, report=report_build(ndcg=0.6), feature_importance={"bm25": 7.0}
    )

    model_version.refresh_from_db()
    assert model_version.report["metrics"]["model"]["ndcg@10"] == 0.6
    assert model_version.decision == {"action": "promoted", "reason": "beats production and bm25"}
    assert model_version.feature_importance == {"bm25": 7.0}
    assert model_version.status == ModelStatus.CANDIDATE
    assert not model_version.transitions.exists()


def test_a_report_without_a_decision_clears_the_decision():
    model_version = ModelVersionFactory(decision={"action": "promoted", "reason": "old"})

    model_version_report_attach(version=model_version.version, report={"metrics": {}})

    model_version.refresh_from_db()
    assert model_version.decision == {}


def test_an_unknown_version_is_a_clear_error():
    with pytest.raises(ModelVersionNotFound):
        model_version_report_attach(version=5, report={})
