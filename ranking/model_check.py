"""Trial-load a LightGBM model text in a throw-away process.

    python -m ranking.model_check [--trees N] [--features M] < model.txt

Reads the model text from stdin, loads it with ``lightgbm.Booster(model_str=...)`` and
prints one JSON line ``{"ok": true, "num_trees": ..., "num_feature": ...}`` last on stdout.
Exit 0 when the model loads and matches the expected counts, 1 otherwise (the JSON then
carries ``"error"``). LightGBM aborts or segfaults on some corrupted model texts, which is
why this runs in its own process: the caller treats any non-zero exit, a signal or a
timeout as a failed check. No Django here, so the child starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys

# LightGBM imports these when they are installed, only for its scikit-learn, pandas and Dask
# interfaces; loading a Booster from text needs none of them, and scikit-learn alone costs
# seconds of start-up. Marking them missing makes LightGBM skip them. If a LightGBM release
# ever needs one to load a model, the check fails (closed), it never passes wrongly.
OPTIONAL_IMPORTS = ("sklearn", "pandas", "dask", "pyarrow", "matplotlib", "graphviz", "cffi", "datatable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ranking.model_check")
    parser.add_argument("--trees", type=int, default=None, help="expected number of trees")
    parser.add_argument("--features", type=int, default=None, help="expected number of features")
    args = parser.parse_args(argv)

    text = sys.stdin.read()
    for name in OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    try:
        import lightgbm

        booster = lightgbm.Booster(model_str=text)
        result = {"num_trees": booster.num_trees(), "num_feature": booster.num_feature()}
    except Exception as error:
        return _emit({"ok": False, "error": f"{type(error).__name__}: {error}"})

    problems = []
    if args.trees is not None and result["num_trees"] != args.trees:
        problems.append(f"it has {result['num_trees']} trees, expected {args.trees}")
    if args.features is not None and result["num_feature"] != args.features:
        problems.append(f"it has {result['num_feature']} features, expected {args.features}")
    if problems:
        return _emit({"ok": False, "error": "; ".join(problems), **result})
    return _emit({"ok": True, **result})


def _emit(payload: dict) -> int:
    # LightGBM may print its own lines to stdout; the caller reads the last one.
    sys.stdout.write("\n" + json.dumps(payload) + "\n")
    sys.stdout.flush()
    return 0 if payload["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
