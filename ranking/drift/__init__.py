"""Drift monitoring: how far what serving sees has moved from what the production model was
trained on. ``psi`` and ``compute`` are pure (numpy, no Django); ``services`` and
``selectors`` read and write the tables of ``ranking.models.drift``; the sampler of served
feature rows lives with serving (``ranking.serving.drift_sampling``)."""
