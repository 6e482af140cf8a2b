"""Features: one declaration (the contract), the tables computed from events, the snapshot
a worker or a training run holds, and the one matrix builder training and serving share.

    contract   every feature, declared once: name, group, where its value comes from, default, kind
    inputs     what a feature's value is computed from: the named inputs of each group
    aggregate  counts of the events before a cut-off, aggregated by the database
    tables     the feature tables of a cut-off, from those counts (pure pandas)
    store      the tables written to and read from the feature store
    text       text statistics of a query against a product
    snapshot   everything the builder needs at one cut-off, in arrays indexed by dicts
    matrix     ``matrix_build``: rows of (query, user, product) to the contract's columns
    kernel     one request's matrix (one query, one user) from the compiled kernel
               (``_kernel_tables.c``, ``_kernel_request.c``): ``matrix_build``'s values, faster

Adding a feature
----------------
1. Declare it in ``contract.FEATURES``, where its group's features are: a name, its group,
   its default (the value without data: no history, an unknown user, a product the catalog
   does not know), a description, and where its value comes from — the name of one input of
   its group (``inputs.CATALOG_INPUTS``, ``TEXT_INPUTS``, ``USER_INPUTS``) or an expression
   over the group's inputs, e.g. for a product behaviour feature
   ``lambda b: np.log1p(b.carts)`` (``b`` is an ``inputs.Behaviour``: counts and the window's
   totals). A value that cannot be computed (NaN) takes the default.
2. For a stored group (product, query x product) run ``python manage.py makemigrations``:
   the table's columns come from the contract.
3. Bump ``contract.CONTRACT_VERSION``: models trained on the old contract stop being served
   (serving falls back to BM25 until a model trained on the new one is promoted).

Nothing else changes: the tables, the stored columns, the snapshot, the matrix positions,
serving and the model's explanation follow the declaration
(``tests/unit/features/test_adding_a_feature.py`` shows it). A feature that needs an input
no group has yet (a new count, a new text statistic) also needs that input computed: in
``aggregate`` and ``tables`` for counts, in ``text`` for a text statistic, and for a text or
user input also in the serving kernel (``_kernel_request.c``): its property test
(``tests/unit/features/test_kernel.py``) fails until the two builders agree.
"""
