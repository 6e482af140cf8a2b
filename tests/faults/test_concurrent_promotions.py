"""Twenty promotions at once through the control room (twenty operators clicking
**Promote** on twenty candidates in the same second), served by gunicorn's threads: one
production model at the end, every promotion done (the registry lock serialises them, each
replacing the one before) and an audit trail that says so, in order."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

from tests.faults.seed import ADMIN
from tests.faults.support import request_form


def test_twenty_concurrent_promotions_leave_one_production_and_a_consistent_trail(postgres, shop, web):
    headers = web.admin_login(*ADMIN)

    def promote(pk: int):
        form = f"reason=operator+{pk}+promotes&csrfmiddlewaretoken={headers['X-CSRFToken']}"
        return request_form(web.address, f"/admin/ranking/modelversion/{pk}/promote/", form, headers)

    with ThreadPoolExecutor(max_workers=len(shop.candidates)) as pool:
        replies = list(pool.map(promote, shop.candidates))

    assert [r.status for r in replies] == [302] * len(shop.candidates), web.tail()
    sql = lambda statement: postgres.sql("shop", statement)  # noqa: E731
    assert sql("SELECT count(*) FROM ranking_modelversion WHERE status = 'production'") == "1"
    promotions = sql(
        "SELECT model_version_id, replaced_id FROM ranking_modelversiontransition"
        " WHERE kind = 'promote' ORDER BY id"
    ).splitlines()
    assert len(promotions) == 1 + len(shop.candidates)  # the seed's, then the twenty
    chain = [line.split("|") for line in promotions]
    for (previous, _), (_, replaced) in itertools.pairwise(chain):
        assert replaced == previous  # each replaced the production before it
    production = sql("SELECT id FROM ranking_modelversion WHERE status = 'production'")
    assert chain[-1][0] == production
