"""The one place the benchmark scripts write their figures into docs/bench_*.md."""

from __future__ import annotations

from pathlib import Path


def block_write(path: Path, table: list[str], notes: str, *, label: str = "") -> None:
    """Replace the block between ``<!-- bench[:label]:begin -->`` and its end marker (or
    append it): the table, then the notes. The prose around the block is left alone."""
    name = f"bench:{label}" if label else "bench"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else ""
    block = f"{begin}\n" + "\n".join(table) + f"\n\n{notes}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text + ("\n" if text else "") + block + "\n"
    path.write_text(text)
    print(f"written to {path}")
