from __future__ import annotations

from django.core.management.base import BaseCommand

from ranking.reports import report_key_metrics
from ranking.selectors import model_version_list

COLUMNS = ("version", "status", "created", "ndcg@10", "mrr", "ctr@10", "bm25", "decision", "trees", "sha256")


class Command(BaseCommand):
    help = "List the model versions, newest first, with their key evaluation metrics."

    def handle(self, *args, **options):
        rows = [COLUMNS]
        for model_version in model_version_list():
            metrics = report_key_metrics(model_version.report, model_version.decision)
            rows.append(
                (
                    f"v{model_version.version}",
                    model_version.status,
                    f"{model_version.created_at:%Y-%m-%d %H:%M}",
                    _number(metrics.model.get("ndcg@10")),
                    _number(metrics.model.get("mrr")),
                    _number(metrics.model.get("ctr@10")),
                    _number(metrics.baselines.get("bm25")),
                    metrics.decision_action or "-",
                    str(model_version.num_trees),
                    model_version.model_sha256[:12],
                )
            )
        if len(rows) == 1:
            self.stdout.write("No model versions yet.")
            return
        widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
