"""Fixtures of the serving tests.

A web worker holds per-process state: the serving state (model and features), the
impression-log queue and the API-key cache. Every test here starts and ends with all three
empty, so no test sees what another loaded.

The serving state loads in a background thread with its own database connection, which
cannot see the rows of a test that runs inside a rolled-back transaction. Tests that let
the worker load by itself are ``transaction=True``; the others build the state here, in the
test's own transaction, with the loader's own ``state_build`` and install it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api.support import worker_state_reset


@pytest.fixture(autouse=True)
def serving_settings(settings, tmp_path_factory):
    """The demo's access (no key) and a synchronous impression log (rolled back with the
    test), no model check unless a test asks for one, no compilation unless a test tests it."""
    settings.SEARCHOP_REQUIRE_API_KEY = False
    settings.SEARCHOP_IMPRESSION_LOG = "sync"
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 3600.0
    settings.SEARCHOP_COMPILED_INFERENCE = False
    settings.SEARCHOP_VAR_DIR = tmp_path_factory.getbasetemp() / "var"


@pytest.fixture(autouse=True)
def fresh_worker(serving_settings) -> Iterator[None]:
    worker_state_reset()
    yield
    worker_state_reset()
