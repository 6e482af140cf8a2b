"""What the experiment commands share: an experiment's report and its list as text."""

from __future__ import annotations

from typing import Any

from ranking.experiments.reports import CREDITED, RATES
from ranking.experiments.rules import interval_text, number_text, preference_text
from ranking.models import Experiment
from ranking.segments import SEGMENTS

CREDITED_NAMES = {"click": "Clicks", "add_to_cart": "Add-to-carts", "purchase": "Purchases"}
LIST_COLUMNS = ("id", "kind", "purpose", "status", "control", "challenger", "traffic", "started", "decision")


def experiment_heading(experiment: Experiment) -> str:
    started = f"{experiment.started_at:%Y-%m-%d %H:%M} UTC" if experiment.started_at else "not started"
    return (
        f"Experiment {experiment.pk}: {experiment.kind}, challenger {experiment.challenger_label} vs control "
        f"{experiment.control_label} on {experiment.traffic:.0%} of searches; {experiment.status} "
        f"({experiment.get_purpose_display()}), started {started}"
    )


def report_lines(experiment: Experiment, report: dict[str, Any]) -> list[str]:
    """The report as the command prints it: heading, counts, the kind's numbers, the decision."""
    limits = f"{experiment.min_searches:,} to {experiment.max_searches or 0:,} searches, {experiment.max_days:g} days"
    error_rate = report.get("error_rate")
    added = report.get("added_ms_mean")
    lines = [
        experiment_heading(experiment),
        f"limits: {limits}; rules: {experiment.guardrails}",
        f"searches {report['searches']:,} in {report['days']:.2f} days; challenger errors "
        f"{report['challenger_errors']} ({'-' if error_rate is None else f'{error_rate:.1%}'}); "
        f"added {'-' if added is None else f'{added:.2f} ms'} per search",
        "",
    ]
    if "interleaving" in report:
        section = report["interleaving"]
        lines += [f"{CREDITED_NAMES[kind]}: {preference_text(section[kind])}" for kind in CREDITED]
        lines.append("By query segment (clicks):")
        lines += [f"  {name:<6} {preference_text(section['segments'][name])}" for name in SEGMENTS]
    if "ab" in report:
        lines += _ab_lines(report["ab"])
    if "shadow" in report:
        shadow = report["shadow"]
        lines.append(
            f"{shadow['searches']:,} searches compared: overlap@10 {number_text(shadow['overlap_at_10'])}, "
            f"Kendall tau {number_text(shadow['kendall_tau'])}, rank-biased overlap "
            f"{number_text(shadow['rank_biased_overlap'])}, top 3 differs in {_share(shadow['top3_differs'])}"
        )
    if experiment.stop_reason:
        decision = experiment.get_decision_display() if experiment.decision else experiment.status
        lines += ["", f"Decision: {decision}: {experiment.stop_reason}"]
    return lines


def experiment_rows(experiments: list[Experiment]) -> list[str]:
    """The list of experiments as aligned columns."""
    rows = [LIST_COLUMNS]
    for e in experiments:
        rows.append(
            (
                str(e.pk),
                e.kind,
                e.purpose,
                e.status,
                e.control_label,
                e.challenger_label,
                f"{e.traffic:.0%}",
                f"{e.started_at:%Y-%m-%d %H:%M}" if e.started_at else "-",
                e.decision or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_COLUMNS))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _ab_lines(section: dict[str, Any]) -> list[str]:
    header = f"{'':<20}{'control':>12}{'challenger':>12}{'difference':>12}  95% interval          p       always-valid p"
    lines = [header]
    for arm_field in ("searches", "users"):
        lines.append(
            f"{arm_field:<20}{section['arms']['control'][arm_field]:>12,}{section['arms']['challenger'][arm_field]:>12,}"
        )
    for rate in RATES:
        entry = section["differences"][rate]
        interval = interval_text(entry["interval"])
        lines.append(
            f"{rate:<20}{number_text(section['arms']['control'][rate]):>12}{number_text(section['arms']['challenger'][rate]):>12}"
            f"{number_text(entry['difference'], signed=True):>12}  {interval:<20}{number_text(entry['p_value']):>8}"
            f"{number_text(entry['sequential_p']):>16}"
        )
    return lines


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
