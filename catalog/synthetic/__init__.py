"""A synthetic shop with a known ground truth: catalog, users, queries, lists and clicks.

Pure numpy (no Django), deterministic for a seed, vectorised over chunks of lists so that
ten million events stream through in bounded memory. ``catalog.services`` writes what the
generator yields into the database.

The model of the shop, module by module in the order the generator applies it:

- ``shop``: the catalog (products with a hidden quality), the users (category and price
  preferences) and the queries they type, each with its candidate pool under BM25.
- ``generator``: sessions, the logging policy's lists (BM25 plus noise; 5% shown in random
  order), and the frames of events, impression log and ground truth.
- ``relevance``: the true relevance (0-3) of a product for a query and a user: intent match,
  quality and price fit, plus noise.
- ``clicks``: the position-based click model, ``(1/k)^eta`` examination, then click, cart and
  purchase by relevance.
- ``config`` the knobs, ``vocabulary`` the words (data in ``vocabulary.toml``).

``relevance.true_relevance`` and ``clicks.funnel_simulate`` take any list in the order shown,
so a simulator of shoppers can judge and click the lists a ranker returns.
"""

from catalog.synthetic.clicks import Funnel, funnel_simulate
from catalog.synthetic.config import MAX_CATEGORIES, SyntheticConfig
from catalog.synthetic.generator import Chunk, Generator, Summary
from catalog.synthetic.relevance import true_relevance
from catalog.synthetic.shop import Catalog, Queries, Shop, Users, catalog_generate

__all__ = [
    "MAX_CATEGORIES",
    "Catalog",
    "Chunk",
    "Funnel",
    "Generator",
    "Queries",
    "Shop",
    "Summary",
    "SyntheticConfig",
    "Users",
    "catalog_generate",
    "funnel_simulate",
    "true_relevance",
]
