"""LETOR / SVMlight ranking files: read, write, and a LightGBM LambdaMART benchmark on them.

Pure (numpy, pandas, LightGBM; no Django), so public benchmark sets (MSLR-WEB10K/30K,
LETOR 4.0, Yahoo, Istella) and SearchOp's own lists can be exchanged with other tools.

**The format.** One row a line: ``label qid:Q 1:v 7:v ... # optional comment``. Feature
indices are 1-based, increasing and sparse (a missing feature is 0.0). ``Q`` is any token
without whitespace, ``:`` or ``#``; the lines of one qid are contiguous and form a list.
A qid that comes back after other qids is an error naming both lines (not a new list: a
file whose rows were shuffled would otherwise split each query into fragments that train
and evaluate as separate lists). LightGBM's own form has no qid: the group sizes come from
a side file, one integer a line, named ``FILE.query`` (found next to ``FILE`` on its own,
or given as ``query_file``). Files may be gzip-compressed (recognised by their first bytes).
Labels must be whole numbers from 0 to 2**31 - 1: LightGBM's lambdarank refuses others.

**The modules.**
- ``data``: ``LetorData`` (the rows as dense arrays), ``LetorFormatError`` and the limits
  that reader and writer both hold to;
- ``read``: ``letor_read``, a file (or its .query side file) into ``LetorData``;
- ``parse``: the engine ``read`` runs on each block of lines: a fast vectorised path and
  the line-by-line reference that names what is wrong;
- ``write``: ``letor_write``, rows into a file that ``letor_read`` reads back exactly;
- ``benchmark``: ``letor_train_evaluate``, LightGBM LambdaMART trained on one set and
  its NDCG@1/3/5/10 on another.
"""
