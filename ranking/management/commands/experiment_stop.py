from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ranking.errors import ExperimentError
from ranking.experiments.services import experiment_stop
from ranking.management.experiment_text import experiment_heading
from ranking.management.registry_text import cli_actor


class Command(BaseCommand):
    help = "Stop the running experiment: every search goes back to the control at once."

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="stopped with manage.py experiment_stop")

    def handle(self, *args, **options):
        try:
            experiment = experiment_stop(reason=options["reason"], actor=cli_actor())
        except ExperimentError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{experiment_heading(experiment)}\nreason: {experiment.stop_reason}")
