"""The feature contract: names, order and defaults of the model's inputs.

Saved with every model version; serving refuses a model whose contract it cannot build.
A default is the value a feature takes when its input is missing (a product never shown
before the cut-off, an unknown user, a product the catalog does not know). Behavioural
rates are stored as *lifts* over the global rate of their window (1.0 = average), so
their scale does not drift between a three-week training history and a two-month serving
history, and their default is a constant.

Bump ``CONTRACT_VERSION`` whenever a name, the order, a default or a definition changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CONTRACT_VERSION = "1"
UNRATED = -1.0


@dataclass(frozen=True)
class Feature:
    name: str
    group: str  # product | query_product | text | user
    default: float
    description: str


FEATURES: tuple[Feature, ...] = (
    # Product behaviour, from events before the cut-off.
    Feature("p_impression_share", "product", 0.0, "log1p(1e5 x the product's share of all impressions)"),
    Feature("p_ctr_lift", "product", 1.0, "clicks / impressions, smoothed toward the global CTR, over it"),
    Feature("p_atc_lift", "product", 1.0, "add-to-carts / impressions, smoothed, over the global rate"),
    Feature("p_purchase_lift", "product", 1.0, "purchases / impressions, smoothed, over the global rate"),
    Feature(
        "p_popularity", "product", 0.0, "log1p(1e5 x share of engagement: clicks + 2 carts + 3 purchases)"
    ),
    Feature("p_recency_days", "product", 365.0, "days from the last event of the product to the cut-off"),
    Feature("p_age_days", "product", 0.0, "days from the first impression of the product to the cut-off"),
    # Product attributes, from the catalog (or the request for an unknown product).
    Feature("p_log_price", "product", 0.0, "log1p(price)"),
    Feature("p_price_rel_category", "product", 0.0, "log(price / the category's median price)"),
    Feature("p_rating", "product", UNRATED, "rating 0-5; -1 when unrated"),
    # Query x product behaviour, from events before the cut-off.
    Feature("qp_impressions", "query_product", 0.0, "log1p(times shown for this query)"),
    Feature("qp_ctr_lift", "query_product", 1.0, "query-specific CTR, smoothed, over the global CTR"),
    Feature("qp_atc_lift", "query_product", 1.0, "query-specific add-to-cart rate, smoothed, over global"),
    Feature("qp_purchase_lift", "query_product", 1.0, "query-specific purchase rate, smoothed, over global"),
    Feature("qp_avg_position", "query_product", 0.0, "average position shown for this query; 0 never shown"),
    # Text relevance of the query against the product, per request.
    Feature("t_bm25_title", "text", 0.0, "BM25 of the query against the title"),
    Feature("t_bm25_description", "text", 0.0, "BM25 against the description"),
    Feature("t_bm25_brand", "text", 0.0, "BM25 against the brand"),
    Feature("t_bm25_category", "text", 0.0, "BM25 against the category"),
    Feature(
        "t_bm25_all", "text", 0.0, "BM25 against title + brand + category + description (the BM25 baseline)"
    ),
    Feature("t_cos_title", "text", 0.0, "TF-IDF cosine against the title"),
    Feature("t_cos_description", "text", 0.0, "TF-IDF cosine against the description"),
    Feature("t_cos_brand", "text", 0.0, "TF-IDF cosine against the brand"),
    Feature("t_cos_category", "text", 0.0, "TF-IDF cosine against the category"),
    Feature("t_exact_title", "text", 0.0, "1 when the whole normalised query occurs in the title"),
    Feature("t_coverage", "text", 0.0, "share of the query's terms found in any field"),
    Feature("t_title_coverage", "text", 0.0, "share of the query's terms found in the title"),
    Feature("q_num_terms", "text", 0.0, "number of terms in the query"),
    # User x product, from the user's engagement before the cut-off.
    Feature(
        "u_category_lift",
        "user",
        1.0,
        "user's smoothed engagement share in the product's category over its global share",
    ),
    Feature(
        "u_price_band_lift",
        "user",
        1.0,
        "user's smoothed engagement share in the product's price band over 1/bands",
    ),
    Feature("u_price_gap", "user", 0.0, "|price relative to category - the user's smoothed mean of it|"),
    Feature("u_engagement", "user", 0.0, "log1p(the user's engagement events)"),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
DEFAULTS: tuple[float, ...] = tuple(f.default for f in FEATURES)


def contract_dict() -> dict:
    """The contract as saved with a model version."""
    return {"version": CONTRACT_VERSION, "features": [asdict(f) for f in FEATURES]}


def contract_matches(saved: dict) -> bool:
    """Whether a saved contract can be built by this code (same names, order and defaults)."""
    if not saved or saved.get("version") != CONTRACT_VERSION:
        return False
    saved_features = saved.get("features") or []
    return [(f["name"], float(f["default"])) for f in saved_features] == [
        (f.name, f.default) for f in FEATURES
    ]
