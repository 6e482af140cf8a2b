from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ranking.errors import ExperimentError
from ranking.experiments.services import experiment_launch
from ranking.management.experiment_text import experiment_heading
from ranking.management.registry_text import cli_actor
from ranking.models import ExperimentKind


class Command(BaseCommand):
    help = (
        "Start an online experiment: the challenger (a model version vN, or bm25, popularity, random, "
        "input) against the control (default: the production version). Model versions are verified "
        "first. Refused while another experiment runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=ExperimentKind.values)
        parser.add_argument("--challenger", required=True, help="vN, bm25, popularity, random or input")
        parser.add_argument("--control", default="production", help="production (default), vN or a baseline")
        parser.add_argument(
            "--traffic",
            type=float,
            help="share of searches (A/B: the challenger's share), in (0, 1]; default 0.1",
        )
        parser.add_argument(
            "--stages", help="A/B canary stages, e.g. 0.05,0.25,0.5 (the traffic starts at the first)"
        )
        parser.add_argument("--min-searches", type=int, help="no decision before this many searches")
        parser.add_argument("--max-searches", type=int, help="end after this many searches")
        parser.add_argument("--max-days", type=float, help="end after this many days")

    def handle(self, *args, **options):
        try:
            stages = [float(s) for s in options["stages"].split(",")] if options["stages"] else []
        except ValueError as error:
            raise CommandError(f"stages: comma-separated shares such as 0.05,0.25,0.5 ({error})") from error
        try:
            experiment = experiment_launch(
                kind=options["kind"],
                challenger=options["challenger"],
                control=options["control"],
                traffic=options["traffic"],
                stages=stages,
                min_searches=options["min_searches"],
                max_searches=options["max_searches"],
                max_days=options["max_days"],
                actor=cli_actor(),
            )
        except ExperimentError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(experiment_heading(experiment))
