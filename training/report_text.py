"""The evaluation report as text tables for the terminal (commands and the demo)."""

from __future__ import annotations

from ranking.rankers import RANKER_NAMES
from training.evaluation import SEGMENTS


def _cell(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.4f}"


def _interval(interval: list[float] | None) -> str:
    return "" if not interval else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def report_text(report: dict) -> str:
    """Every ranker's metrics side by side, the model's intervals, segments and the decision."""
    metrics, debiased, truth = (
        report.get("metrics") or {},
        report.get("debiased") or {},
        report.get("truth") or {},
    )
    intervals = report.get("intervals") or {}
    counts = report.get("counts") or {}
    windows = report.get("windows") or {}
    lines = []
    if report.get("version") is not None:
        lines.append(f"Model v{report['version']}")
    if windows:
        lines.append(
            f"  windows: features < {windows.get('features_until', '?')[:16]}, "
            f"train {_span(windows.get('train'))} (validation from {str((windows.get('validation') or ['?'])[0])[:10]}), "
            f"eval {_span(windows.get('eval'))}"
        )
    if counts:
        lines.append(
            f"  lists: train {counts.get('train_lists', 0):,} ({counts.get('train_lists_with_click', 0):,} with a click), "
            f"validation {counts.get('validation_lists', 0):,}, eval {counts.get('eval_lists', 0):,} "
            f"({counts.get('eval_lists_with_click', 0):,} with a click), randomised {counts.get('randomised_lists', 0):,}"
        )
    lines.append("")
    header = f"  {'ranker':<11} {'NDCG@10':>7} {'MRR':>7} {'CTR@10':>7} {'debiased':>9} {'truth':>7}   model - ranker (95% CI, truth or debiased NDCG@10)"
    lines.append(header)
    lines.append("  " + "-" * (len(header) - 2))
    for name in RANKER_NAMES:
        row = metrics.get(name)
        if row is None and (truth.get(name) is None):
            lines.append(f"  {name:<11} {'(does not apply)':>40}")
            continue
        row = row or {}
        interval = intervals.get(f"model-{name}") or {}
        ci = interval.get("truth_ndcg@10") or interval.get("debiased_ndcg@10")
        lines.append(
            f"  {name:<11} {_cell(row.get('ndcg@10')):>7} {_cell(row.get('mrr')):>7} {_cell(row.get('ctr@10')):>7} "
            f"{_cell((debiased.get(name) or {}).get('ndcg@10')):>9} {_cell((truth.get(name) or {}).get('ndcg@10')):>7}   "
            f"{_interval(ci)}"
        )
    segments = report.get("segments") or {}
    if segments:
        lines.append("")
        lines.append(
            f"  {'segment':<8} {'lists':>6}  {'model truth':>11} {'bm25 truth':>10}  {'model debiased':>14} {'logging debiased':>16}"
        )
        for segment in SEGMENTS:
            entry = segments.get(segment) or {}
            seg_metrics = entry.get("metrics") or {}
            model, bm25, logging = (seg_metrics.get(n) or {} for n in ("model", "bm25", "logging"))
            lines.append(
                f"  {segment:<8} {entry.get('lists', 0):>6,}  {_cell(model.get('truth_ndcg@10')):>11} "
                f"{_cell(bm25.get('truth_ndcg@10')):>10}  {_cell(model.get('debiased_ndcg@10')):>14} "
                f"{_cell(logging.get('debiased_ndcg@10')):>16}"
            )
    variants = report.get("variants") or {}
    if variants:
        lines.append("")
        for name in ("position_bias", "no_position_bias"):
            variant = variants.get(name) or {}
            chosen = " (chosen)" if variants.get("chosen") == name else ""
            lines.append(
                f"  trained {name.replace('_', ' ').replace('no position', 'without position')}{chosen}: "
                f"debiased {_cell((variant.get('debiased') or {}).get('ndcg@10'))}, "
                f"truth {_cell((variant.get('truth') or {}).get('ndcg@10'))}, "
                f"click NDCG@10 {_cell((variant.get('metrics') or {}).get('ndcg@10'))}"
            )
    decision = report.get("decision") or {}
    if decision:
        lines.append("")
        lines.append(f"  decision: {decision.get('action')}: {decision.get('reason')}")
    return "\n".join(lines)


def _span(span: list | None) -> str:
    if not span:
        return "?"
    return f"{str(span[0])[:10]} .. {str(span[1])[:10]}"
