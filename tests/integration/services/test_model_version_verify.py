import pytest

from ranking.errors import ModelVerificationError, ModelVersionNotFound
from ranking.models import ModelVersion
from ranking.services import model_version_verify
from tests.registry_factories import ModelVersionFactory, sha256, tiny_model_text

pytestmark = pytest.mark.django_db


def store_text(model_version: ModelVersion, text: str) -> None:
    """Replace the stored text and its recorded sha, so only the trial load can catch it."""
    ModelVersion.objects.filter(pk=model_version.pk).update(model_text=text, model_sha256=sha256(text))


def test_a_real_model_passes():
    model_version_verify(version=ModelVersionFactory().version)


def test_a_text_changed_after_registration_fails_on_its_sha():
    model_version = ModelVersionFactory()
    ModelVersion.objects.filter(pk=model_version.pk).update(model_text=tiny_model_text() + "\n")

    with pytest.raises(ModelVerificationError, match="sha256"):
        model_version_verify(version=model_version.version)


def test_a_truncated_model_fails_without_taking_the_test_process_down():
    model_version = ModelVersionFactory()
    text = tiny_model_text()
    store_text(model_version, text[: len(text) // 2])  # LightGBM segfaults on this one

    with pytest.raises(ModelVerificationError, match=f"v{model_version.version} failed verification"):
        model_version_verify(version=model_version.version)


def test_a_garbled_model_fails_without_taking_the_test_process_down():
    model_version = ModelVersionFactory()
    # LightGBM calls abort() on this one.
    store_text(model_version, tiny_model_text().replace("threshold=", "threshold=x"))

    with pytest.raises(ModelVerificationError, match=r"crashed|could not load"):
        model_version_verify(version=model_version.version)


def test_a_text_without_a_model_header_fails_with_lightgbms_reason():
    model_version = ModelVersionFactory()
    store_text(model_version, "tree\nnot really\n")

    with pytest.raises(ModelVerificationError, match="could not load it"):
        model_version_verify(version=model_version.version)


def test_a_model_with_fewer_trees_than_recorded_fails():
    model_version = ModelVersionFactory(num_trees=7)

    with pytest.raises(ModelVerificationError, match="3 trees, expected 7"):
        model_version_verify(version=model_version.version)


def test_a_model_with_more_features_than_the_contract_names_fails():
    model_version = ModelVersionFactory(feature_contract={"version": 1, "names": ["bm25", "ctr"]})

    with pytest.raises(ModelVerificationError, match="4 features, expected 2"):
        model_version_verify(version=model_version.version)


def test_a_load_that_takes_too_long_fails(settings):
    settings.SEARCHOP_MODEL_CHECK_TIMEOUT = 0.01
    model_version = ModelVersionFactory()

    with pytest.raises(ModelVerificationError, match="did not load it within"):
        model_version_verify(version=model_version.version)


def test_an_unknown_version_is_a_clear_error():
    with pytest.raises(ModelVersionNotFound, match="no model version v42"):
        model_version_verify(version=42)
