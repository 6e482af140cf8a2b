"""The serving hot path of ``/api/rank`` and the web workers' state.

* ``rank``: the request, top to bottom (parse, validate, features, score, order, log, respond);
* ``validation``: one lean pass over the candidates that names the bad field (its common case
  compiled: ``_candidates.c``);
* ``scoring``: the model, or any further ranker, on the request's one matrix;
* ``state``: what a worker serves (model and feature snapshot), loaded in the background and
  swapped in within seconds of a promotion;
* ``impression_log``: every served list, written in batches off the request path;
* ``access``: API keys and per-key throttling;
* ``http``: the bounded JSON parser, the renderer and the one error shape;
* ``observability``: SearchOp's Prometheus metrics.
"""
