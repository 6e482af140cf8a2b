"""A drift report as lines of text (the command's output)."""

from __future__ import annotations

from typing import Any


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def drift_report_lines(result: dict[str, Any]) -> list[str]:
    head = f"Drift at {result.get('computed_at', '?')[:19]}, model v{result.get('model_version', '-')}"
    if result.get("status") != "ok":
        return [head, f"  {result.get('status')}"]
    lines = [
        f"{head}: {result['searches']:,} sampled searches, {result['rows']:,} rows "
        f"in the last {result['window_hours']:g} h; {'FLAGGED' if result['flagged'] else 'nothing flagged'}",
        f"  {'feature':<24} {'PSI':>8} {'threshold':>10}  flagged",
    ]
    for row in result["features"]:
        limit = "watched" if row["threshold"] is None else f"{row['threshold']:.3f}"
        lines.append(
            f"  {row['feature']:<24} {_number(row['psi']):>8} {limit:>10}  {'yes' if row['flagged'] else 'no'}"
        )
    score, unseen, ctr = result["score"], result["unseen_queries"], result["ctr"]
    lines += [
        f"  {'model score':<24} {_number(score['psi']):>8} {score['threshold']:>10.3f}  {'yes' if score['flagged'] else 'no'}",
        f"  unseen queries: {_number(unseen['share'])} of searches (training data's own rate "
        f"{_number(unseen['training_share'])}, threshold {_number(unseen['threshold'])})"
        f"{' FLAGGED' if unseen['flagged'] else ''}",
        f"  CTR (searches with a click): last day {_number(ctr['last_day'])}, trailing {_number(ctr['trailing'])}"
        f" (threshold ±{ctr['threshold']:.0%}){' FLAGGED' if ctr['flagged'] else ''}",
    ]
    return lines
