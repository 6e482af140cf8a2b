"""Online experiments: shadow, team-draft interleaving and A/B with canary stages, decided by
what users do.

- ``arms``: what an experiment compares (a model version or a baseline) and who gets which arm;
- ``interleaving``: team-draft interleaving and how clicks are credited to the two teams;
- ``statistics``, ``comparisons``: the tests and measures, pure functions over arrays;
- ``selectors``: the running experiment, and its exposures joined with the events (SQL);
- ``reports``: an experiment's report, per kind;
- ``rules``: what becomes of the running experiment, from its report (pure);
- ``services``: create, start, stop, end, advance a canary stage;
- ``decide``: the evaluation the beat task runs: guardrails, decisions, the watch, the gates;
- ``policy``: the settings, checked.

The ``Experiment`` table is ``ranking.models.experiments``: the tables stay in
``ranking.models`` so that this package can import the registry without an import cycle.
"""
