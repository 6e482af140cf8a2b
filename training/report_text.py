"""The evaluation report as text tables for the terminal (commands and the demo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ranking.rankers import RANKER_NAMES
from training.evaluation import SEGMENTS

# Each table's columns once, (title, width): the header and every row are laid out from them.
_RANKER_COLUMNS = (("ranker", 11), ("NDCG@10", 7), ("MRR", 7), ("CTR@10", 7), ("debiased", 9), ("truth", 7))
_SEGMENT_COLUMNS = (
    ("segment", 8),
    ("lists", 6),
    ("model truth", 12),
    ("bm25 truth", 10),
    ("model debiased", 15),
    ("logging debiased", 16),
)
_INTERVAL_TITLE = "model - ranker (95% CI, truth or debiased NDCG@10)"
_VARIANTS = ("position_bias", "no_position_bias")


def report_text(report: dict) -> str:
    """Every ranker's metrics side by side, the model's intervals, segments and the decision."""
    lines = _heading(report)
    lines += ["", *_ranker_table(report)]
    if report.get("segments"):
        lines += ["", *_segment_table(report["segments"])]
    if report.get("variants"):
        lines += ["", *_variant_lines(report["variants"])]
    decision = report.get("decision") or {}
    if decision:
        lines += ["", f"  decision: {decision.get('action')}: {decision.get('reason')}"]
    return "\n".join(lines)


def _heading(report: dict) -> list[str]:
    """The model version, the windows and the list counts, where the report has them."""
    lines = []
    if report.get("version") is not None:
        lines.append(f"Model v{report['version']}")
    windows = report.get("windows") or {}
    if windows:
        validation_from = str((windows.get("validation") or ["?"])[0])[:10]
        features_until = windows.get("features_until", "?")
        features = (  # reports before the history window: every event before T1
            _span([windows["features_since"], features_until])
            if "features_since" in windows
            else f"< {features_until[:16]}"
        )
        lines.append(
            f"  windows: features {features}, "
            f"train {_span(windows.get('train'))} (validation from {validation_from}), "
            f"eval {_span(windows.get('eval'))}"
        )
        lines += _short_history_note(windows, report.get("counts") or {})
    counts = report.get("counts") or {}
    if counts:
        lines.append(
            f"  lists: train {counts.get('train_lists', 0):,} ({counts.get('train_lists_with_click', 0):,} with a click), "
            f"validation {counts.get('validation_lists', 0):,}, eval {counts.get('eval_lists', 0):,} "
            f"({counts.get('eval_lists_with_click', 0):,} with a click), randomised {counts.get('randomised_lists', 0):,}"
        )
    return lines


def _ranker_table(report: dict) -> list[str]:
    """A row per ranker: click metrics, debiased and truth NDCG@10, the model's interval over it."""
    metrics, debiased, truth = (report.get(key) or {} for key in ("metrics", "debiased", "truth"))
    intervals = report.get("intervals") or {}
    header = _table_line([title for title, _ in _RANKER_COLUMNS], _RANKER_COLUMNS) + "   " + _INTERVAL_TITLE
    lines = [header, "  " + "-" * (len(header) - 2)]
    for name in RANKER_NAMES:
        row = metrics.get(name)
        if row is None and (truth.get(name) is None):
            lines.append(f"  {name:<{_RANKER_COLUMNS[0][1]}} {'(does not apply)':>40}")
            continue
        row = row or {}
        interval = intervals.get(f"model-{name}") or {}
        ci = interval.get("truth_ndcg@10") or interval.get("debiased_ndcg@10")
        cells = [row.get("ndcg@10"), row.get("mrr"), row.get("ctr@10")]
        cells += [(debiased.get(name) or {}).get("ndcg@10"), (truth.get(name) or {}).get("ndcg@10")]
        lines.append(_table_line([name, *map(_cell, cells)], _RANKER_COLUMNS) + "   " + _interval(ci))
    return lines


def _segment_table(segments: dict) -> list[str]:
    """A row per segment: the model's and BM25's truth NDCG@10, the model's and the log's debiased."""
    lines = [_table_line([title for title, _ in _SEGMENT_COLUMNS], _SEGMENT_COLUMNS)]
    for segment in SEGMENTS:
        entry = segments.get(segment) or {}
        by_ranker = entry.get("metrics") or {}
        model, bm25, logging = (by_ranker.get(n) or {} for n in ("model", "bm25", "logging"))
        cells = [model.get("truth_ndcg@10"), bm25.get("truth_ndcg@10")]
        cells += [model.get("debiased_ndcg@10"), logging.get("debiased_ndcg@10")]
        lines.append(
            _table_line([segment, f"{entry.get('lists', 0):,}", *map(_cell, cells)], _SEGMENT_COLUMNS)
        )
    return lines


def _variant_lines(variants: dict) -> list[str]:
    """The two trained variants (with and without position-bias correction), the chosen one marked."""
    lines = []
    for name in _VARIANTS:
        variant = variants.get(name) or {}
        chosen = " (chosen)" if variants.get("chosen") == name else ""
        lines.append(
            f"  trained {name.replace('_', ' ').replace('no position', 'without position')}{chosen}: "
            f"debiased {_cell((variant.get('debiased') or {}).get('ndcg@10'))}, "
            f"truth {_cell((variant.get('truth') or {}).get('ndcg@10'))}, "
            f"click NDCG@10 {_cell((variant.get('metrics') or {}).get('ndcg@10'))}"
        )
    return lines


def _table_line(texts: Sequence[str], columns: Sequence[tuple[str, int]]) -> str:
    """One line of a table: the first column left-aligned, the others right-aligned."""
    (_, first), *rest = columns
    cells = [
        f"{texts[0]:<{first}}",
        *(f"{text:>{width}}" for text, (_, width) in zip(texts[1:], rest, strict=True)),
    ]
    return "  " + " ".join(cells)


def _cell(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.4f}"


def _interval(interval: list[float] | None) -> str:
    return "" if not interval else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def _short_history_note(windows: dict, counts: dict) -> list[str]:
    """A line when the training features had a day or more fewer of events than the history
    every feature set reads (the events begin inside it): serving will read the whole history.
    Hours short are the shop's first night, not worth a line."""
    read = counts.get("features_train_history_days")
    if read is None or "features_since" not in windows:
        return []
    history = datetime.fromisoformat(windows["features_until"]) - datetime.fromisoformat(
        windows["features_since"]
    )
    configured = history.total_seconds() / 86400
    if read > configured - 1:
        return []
    return [
        f"  note: the training features read {read:g} days of events, fewer than the {configured:g} of the "
        "history serving reads (SEARCHOP_HISTORY_DAYS): more data, or shorter windows, make them alike"
    ]


def _span(span: list | None) -> str:
    if not span:
        return "?"
    return f"{str(span[0])[:10]} .. {str(span[1])[:10]}"
