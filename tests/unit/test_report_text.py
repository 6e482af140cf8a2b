"""The evaluation report as terminal text (``training.report_text``): a row per ranker whose
figures line up under their titles, the model's interval beside each, and the segments, the
trained variants and the decision when the report has them."""

from __future__ import annotations

from ranking.rankers import RANKER_NAMES
from training.report_text import report_text

REPORT = {
    "version": 7,
    "windows": {
        "features_until": "2024-03-01T00:00:00+00:00",
        "train": ["2024-01-01T00:00", "2024-02-20T00:00"],
        "validation": ["2024-02-14T00:00", "2024-02-20T00:00"],
        "eval": ["2024-02-20T00:00", "2024-03-01T00:00"],
    },
    "counts": {"train_lists": 12345, "train_lists_with_click": 2345, "eval_lists": 5000},
    "metrics": {
        "model": {"ndcg@10": 0.41234, "mrr": 0.3876, "ctr@10": 0.81},
        "bm25": {"ndcg@10": 0.35, "mrr": 0.3, "ctr@10": 0.7},
    },
    "debiased": {"model": {"ndcg@10": 0.45}, "bm25": {"ndcg@10": 0.39}},
    "truth": {"model": {"ndcg@10": 0.6}, "oracle": {"ndcg@10": 1.0}},
    "intervals": {"model-bm25": {"truth_ndcg@10": [0.012, 0.034]}},
    "segments": {"head": {"lists": 2500, "metrics": {"model": {"truth_ndcg@10": 0.7}}}},
    "variants": {"chosen": "no_position_bias", "no_position_bias": {"debiased": {"ndcg@10": 0.45}}},
    "decision": {"action": "promoted", "reason": "no production model"},
}


def line_starting(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def cells(text: str, start: str) -> str:
    """The line that starts so, its cells one blank apart."""
    return " ".join(line_starting(text, start).split())


def test_the_heading_names_the_version_the_windows_and_the_list_counts():
    lines = report_text(REPORT).splitlines()

    assert lines[0] == "Model v7"
    assert lines[1] == (
        "  windows: features < 2024-03-01T00:00, train 2024-01-01 .. 2024-02-20 "
        "(validation from 2024-02-14), eval 2024-02-20 .. 2024-03-01"
    )
    assert lines[2].startswith("  lists: train 12,345 (2,345 with a click), validation 0, eval 5,000")


def test_the_heading_gives_the_features_history_as_a_span_when_the_report_has_its_start():
    windows = REPORT["windows"] | {"features_since": "2024-02-16T00:00:00+00:00"}

    heading = report_text(REPORT | {"windows": windows}).splitlines()[1]

    assert heading.startswith("  windows: features 2024-02-16 .. 2024-03-01, train 2024-01-01")


def test_a_training_history_shorter_than_the_configured_one_is_said_under_the_windows():
    windows = REPORT["windows"] | {"features_since": "2024-02-16T00:00:00+00:00"}  # 14 days
    short = REPORT | {"windows": windows, "counts": REPORT["counts"] | {"features_train_history_days": 9.5}}
    whole = REPORT | {"windows": windows, "counts": REPORT["counts"] | {"features_train_history_days": 13.7}}

    assert report_text(short).splitlines()[2] == (
        "  note: the training features read 9.5 days of events, fewer than the 14 of the history serving "
        "reads (SEARCHOP_HISTORY_DAYS): more data, or shorter windows, make them alike"
    )
    assert "note:" not in report_text(whole)


def test_each_ranker_has_a_row_and_one_without_figures_says_it_does_not_apply():
    text = report_text(REPORT)

    for name in RANKER_NAMES:
        assert line_starting(text, f"  {name} ")
    assert line_starting(text, "  production ").endswith("(does not apply)")
    assert cells(text, "  oracle ") == "oracle - - - - 1.0000"


def test_a_ranker_row_shows_its_figures_and_the_model_interval_over_it():
    text = report_text(REPORT)

    assert cells(text, "  bm25 ") == "bm25 0.3500 0.3000 0.7000 0.3900 - [+0.012, +0.034]"
    assert cells(text, "  model ") == "model 0.4123 0.3876 0.8100 0.4500 0.6000"


def test_the_figures_end_under_the_end_of_their_column_titles():
    text = report_text(REPORT)
    header, row = line_starting(text, "  ranker "), line_starting(text, "  model ")
    segment_header, segment_row = line_starting(text, "  segment "), line_starting(text, "  head ")

    for title, figure in [("NDCG@10", "0.4123"), ("CTR@10", "0.8100"), ("truth", "0.6000")]:
        assert header.index(title) + len(title) == row.index(figure) + len(figure)
    assert segment_header.index("lists") + len("lists") == segment_row.index("2,500") + len("2,500")
    end = segment_header.index("model truth") + len("model truth")
    assert segment_row.index("0.7000") + len("0.7000") == end


def test_segments_variants_and_the_decision_follow_when_the_report_has_them():
    text = report_text(REPORT)

    assert cells(text, "  torso ") == "torso 0 - - - -"
    assert line_starting(text, "  trained without position bias (chosen): ").startswith(
        "  trained without position bias (chosen): debiased 0.4500, truth      -"
    )
    assert line_starting(text, "  trained position bias: ")
    assert text.splitlines()[-1] == "  decision: promoted: no production model"


def test_an_empty_report_is_the_ranker_table_alone():
    lines = report_text({}).splitlines()

    assert lines[0] == ""
    assert lines[1].startswith("  ranker ")
    assert set(lines[2].strip()) == {"-"}
    assert len(lines) == 3 + len(RANKER_NAMES)
    assert all(line.endswith("(does not apply)") for line in lines[3:])
