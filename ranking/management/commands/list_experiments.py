from __future__ import annotations

from django.core.management.base import BaseCommand

from ranking.experiments.selectors import experiment_list
from ranking.management.experiment_text import experiment_rows


class Command(BaseCommand):
    help = "List the experiments, newest first: kind, sides, traffic, status and decision."

    def handle(self, *args, **options):
        experiments = list(experiment_list())
        if not experiments:
            self.stdout.write("No experiments yet.")
            return
        self.stdout.write("\n".join(experiment_rows(experiments)))
