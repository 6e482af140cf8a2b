from __future__ import annotations

from django.core.management.base import BaseCommand

from ranking.experiments.decide import experiments_decide
from ranking.management.registry_text import cli_actor


class Command(BaseCommand):
    help = (
        "Run once, now, the evaluation the beat task runs every few minutes: the running experiment's "
        "guardrails and decision, canary stages, the watch after a promotion, the online gate of a "
        "waiting candidate."
    )

    def handle(self, *args, **options):
        lines = experiments_decide(actor=cli_actor())
        self.stdout.write("\n".join(lines) if lines else "No experiment is running and none is due.")
