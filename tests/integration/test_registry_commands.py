import io

import pytest
from django.core.management import CommandError, call_command

from ranking.models import ModelStatus, ModelVersionTransition
from ranking.selectors import model_version_production_get
from tests.registry_factories import ModelVersionFactory, report_build

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_promote_model_prints_what_changed_and_records_the_reason_and_the_cli_actor():
    ModelVersionFactory(status=ModelStatus.PRODUCTION)
    ModelVersionFactory()

    output = run("promote_model", "2", "--reason", "weekly retrain is better")

    assert "v1: production → archived" in output
    assert "v2: candidate → production" in output
    assert model_version_production_get().version == 2
    promotion = ModelVersionTransition.objects.get(kind="promote")
    assert promotion.reason == "weekly retrain is better"
    assert promotion.actor.startswith("cli")


def test_promote_model_exits_with_a_clear_message_on_an_unknown_version():
    with pytest.raises(CommandError, match="no model version v7"):
        run("promote_model", "7")


def test_promote_model_exits_with_a_clear_message_for_the_production_version():
    ModelVersionFactory(status=ModelStatus.PRODUCTION)
    with pytest.raises(CommandError, match="already in production"):
        run("promote_model", "1")


def test_rollback_model_restores_the_previous_version_and_prints_the_change():
    ModelVersionFactory()
    ModelVersionFactory()
    run("promote_model", "1")
    run("promote_model", "2")

    output = run("rollback_model", "--reason", "ctr dropped")

    assert "v2: production → archived" in output
    assert "v1: archived → production" in output
    assert model_version_production_get().version == 1
    assert ModelVersionTransition.objects.filter(kind="rollback", reason="ctr dropped").exists()


def test_rollback_model_without_a_production_version_exits_with_a_clear_message():
    with pytest.raises(CommandError, match="nothing to roll back"):
        run("rollback_model")


def test_list_models_shows_each_version_with_its_key_metrics():
    ModelVersionFactory(report=report_build(ndcg=0.5123))
    ModelVersionFactory(report={"metrics": {"model": None}}, status=ModelStatus.PRODUCTION)

    lines = run("list_models").splitlines()

    assert lines[0].split() == [
        "version",
        "status",
        "created",
        "ndcg@10",
        "mrr",
        "ctr@10",
        "bm25",
        "decision",
        "trees",
        "sha256",
    ]
    assert lines[1].split()[:2] == ["v2", "production"]
    assert lines[2].split()[:2] == ["v1", "candidate"]
    assert lines[2].split()[4:8] == ["0.5123", "0.4100", "0.1200", "0.4000"]


def test_list_models_says_so_when_there_are_none():
    assert "No model versions yet" in run("list_models")
