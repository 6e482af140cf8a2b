"""The migrations describe the models as they are: a feature declared in the contract (whose
stored columns the models derive from it) or any model change without its migration fails here."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_every_model_change_has_its_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
