"""An experiment's report as the tables its admin pages show: a summary first, then the
numbers of its kind, each table a title, column names and formatted rows."""

from __future__ import annotations

from typing import Any

from ranking.experiments.reports import CREDITED, RATES
from ranking.experiments.rules import interval_text, number_text
from ranking.segments import SEGMENTS

PREFERENCE_COLUMNS = (
    "",
    "searches with one",
    "wins",
    "losses",
    "ties",
    "preference",
    "95% interval",
    "sign test p",
    "always-valid p",
)
CREDITED_TITLES = {"click": "clicks", "add_to_cart": "add-to-carts", "purchase": "purchases"}


def report_sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary, then the tables of the report's kind."""
    sections = [_summary(report)]
    if "interleaving" in report:
        sections += _interleaving(report["interleaving"])
    if "ab" in report:
        sections.append(_ab(report["ab"]))
    if "shadow" in report:
        sections.append(_shadow(report["shadow"]))
    return sections


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    error_rate, added = report.get("error_rate"), report.get("added_ms_mean")
    return {
        "title": "So far",
        "columns": ("searches", "days", "challenger errors", "error rate", "added per search"),
        "rows": [
            (
                f"{report.get('searches', 0):,}",
                f"{report.get('days') or 0:.2f}",
                f"{report.get('challenger_errors', 0):,}",
                "–" if error_rate is None else f"{error_rate:.2%}",
                "–" if added is None else f"{added:.3f} ms",
            )
        ],
    }


def _interleaving(section: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": "Interleaving: the challenger's preference",
            "columns": PREFERENCE_COLUMNS,
            "rows": [_preference_row(CREDITED_TITLES[kind], section[kind]) for kind in CREDITED],
        },
        {
            "title": "Clicks by query segment",
            "columns": PREFERENCE_COLUMNS,
            "rows": [_preference_row(name, section["segments"][name]) for name in SEGMENTS],
        },
    ]


def _ab(section: dict[str, Any]) -> dict[str, Any]:
    arms, differences = section["arms"], section["differences"]
    rows = [
        (name, f"{arms['control'][name]:,}", f"{arms['challenger'][name]:,}", "", "", "", "")
        for name in ("searches", "users")
    ]
    for rate in RATES:
        entry = differences[rate]
        rows.append(
            (
                rate,
                number_text(arms["control"][rate]),
                number_text(arms["challenger"][rate]),
                number_text(entry["difference"], signed=True),
                interval_text(entry["interval"]),
                number_text(entry["p_value"]),
                number_text(entry["sequential_p"]),
            )
        )
    return {
        "title": "A/B: per arm (the user is the unit)",
        "columns": ("", "control", "challenger", "difference", "95% interval", "p", "always-valid p"),
        "rows": rows,
    }


def _shadow(shadow: dict[str, Any]) -> dict[str, Any]:
    differs = shadow["top3_differs"]
    return {
        "title": "Shadow: how far the challenger's order is from the control's",
        "columns": ("searches", "overlap@10", "Kendall tau", "rank-biased overlap", "top 3 differs"),
        "rows": [
            (
                f"{shadow['searches']:,}",
                number_text(shadow["overlap_at_10"]),
                number_text(shadow["kendall_tau"]),
                number_text(shadow["rank_biased_overlap"]),
                "–" if differs is None else f"{differs:.0%}",
            )
        ],
    }


def _preference_row(name: str, entry: dict[str, Any]) -> tuple:
    return (
        name,
        f"{entry['searches_with_click']:,}",
        f"{entry['wins']:,}",
        f"{entry['losses']:,}",
        f"{entry['ties']:,}",
        number_text(entry.get("preference"), signed=True),
        interval_text(entry.get("interval")),
        number_text(entry["sign_test_p"]),
        number_text(entry["sequential_p"]),
    )
