"""The read engine (``training.letor.parse``): the fast path takes what it can and never
reads a block differently from the line-by-line reference parser."""

from __future__ import annotations

import numpy as np

from tests.unit.letor.support import random_rows
from training.letor import parse
from training.letor.write import letor_write

# --- the fast path and the reference ---------------------------------------------------------


def test_the_fast_path_takes_comments_tabs_and_windows_line_ends(tmp_path):
    block = b"# c: 1\n\n 2  qid:10\t1:0.5 2:3 # x:y\r\n0 qid:10 1:0.25 \n\t\n"

    fast = parse._parse_block_fast(block, with_qid=True)

    assert fast is not None
    assert np.array_equal(fast.features, [[0.5, 3.0], [0.25, 0.0]])


def test_the_fast_path_never_reads_a_damaged_file_differently_from_the_line_by_line_parser(tmp_path):
    rng = np.random.default_rng(11)
    lines = ["2 qid:1 1:0.5 3:-2 # a comment", "0 qid:1 2:1e-3 3:7", "1 qid:q2 1:4.25", "", "3 qid:q2"]
    alphabet = [*' \t:#qid0123456789.-e"xN\n', "qid:", " 4:", "\r\n", "NA:NA", " nan:nan", "1e300"]
    agreements = 0
    for _ in range(3000):
        text = "\n".join(lines) + "\n"
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(0, len(text)))
            if rng.random() < 0.5:
                text = text[:at] + str(rng.choice(alphabet)) + text[at:]
            else:
                text = text[:at] + text[at + 1 :]
        block = text.encode() if text.endswith("\n") else text.encode() + b"\n"
        fast = parse._parse_block_fast(block, with_qid=True)
        if fast is None:
            continue
        careful = parse._parse_block_careful(tmp_path, 1, block.split(b"\n"), with_qid=True)
        assert np.array_equal(fast.features, careful.features), text
        assert np.array_equal(fast.labels, careful.labels), text
        assert list(fast.qids) == list(careful.qids), text
        agreements += 1
    assert agreements > 300  # the fast path took a good share of the damaged files


def test_the_fast_path_and_the_line_by_line_parser_agree(tmp_path):
    features, labels, list_index, qids = random_rows(np.random.default_rng(8))
    path = tmp_path / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, qids=qids, comment="x: 1")
    block = path.read_bytes()

    fast = parse._parse_block_fast(block, with_qid=True)
    careful = parse._parse_block_careful(path, 1, block.split(b"\n"), with_qid=True)

    assert fast is not None
    assert np.array_equal(fast.features, careful.features)
    assert np.array_equal(fast.labels, careful.labels)
    assert list(fast.qids) == list(careful.qids)
