from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from training.report_text import report_text
from training.services import PipelineError, model_train


class Command(BaseCommand):
    help = (
        "Build features and datasets for the configured windows, train the LambdaMART ranker, "
        "evaluate it beside the baselines and register it as a candidate (no promotion). "
        "With --letor TRAIN --valid VALID, train on LETOR/SVMlight files instead and print NDCG@1/3/5/10."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument(
            "--letor", metavar="TRAIN_FILE", help="a LETOR / SVMlight ranking file to train on"
        )
        parser.add_argument("--valid", metavar="VALID_FILE", help="with --letor: the validation file")
        parser.add_argument("--rounds", type=int, default=300, help="with --letor: boosting rounds")

    def handle(self, *args, **options):
        if options["letor"]:
            return self._letor(options)
        reporter = Reporter.silent() if options["json"] else Reporter.to_stream(self.stdout)
        try:
            candidate = model_train(reporter=reporter, actor="cli")
        except PipelineError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(candidate.report, indent=2))
        else:
            self.stdout.write("")
            self.stdout.write(report_text(candidate.report))
            self.stdout.write(f"\nRegistered v{candidate.version.version} as a candidate.")

    def _letor(self, options):
        from training.services import letor_train

        if not options["valid"]:
            raise CommandError("--letor needs --valid VALID_FILE")
        reporter = Reporter.silent() if options["json"] else Reporter.to_stream(self.stdout)
        try:
            result = letor_train(
                train_path=options["letor"],
                valid_path=options["valid"],
                rounds=options["rounds"],
                reporter=reporter,
            )
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(
            "Validation: "
            + "  ".join(f"{key} {result[key]:.4f}" for key in ("ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10"))
        )
        self.stdout.write(json.dumps(result))
