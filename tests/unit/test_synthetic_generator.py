"""The synthetic shop's generator (catalog.synthetic.generator): its lists, events and truth."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from catalog import text
from catalog.synthetic import Generator, SyntheticConfig

# sha256 of every frame a seed gives (catalog, events, impression log, truth, summary), taken
# before the generator became a package. A change that alters the data of a seed is a change
# of the shop: make it on purpose, and update these with a note in the commit.
DIGESTS = [
    (
        SyntheticConfig(products=300, categories=5, users=100, events=20_000, seed=5, chunk_lists=1_000),
        "366d6e3ac945dd7ef473eac80b370364e3a75ab7102cce5745e4ff570810fef9",
    ),
    (
        SyntheticConfig(
            products=2000,
            categories=16,
            users=300,
            events=15_000,
            seed=9,
            examination_eta=1.4,
            randomised_share=0.3,
            list_min=3,
            list_max=25,
            pool_size=30,
        ),
        "dc1193db2804c5bf0b13f664412fc2b9da2588368e502506e9fd30ac92e19886",
    ),
]


def generate(**overrides):
    config = SyntheticConfig(
        **{"products": 300, "categories": 5, "users": 100, "events": 20_000, **overrides}
    )
    generator = Generator(config)
    chunks = list(generator.chunks())
    events = pd.concat([c.events for c in chunks], ignore_index=True)
    requests = pd.concat([c.requests for c in chunks], ignore_index=True)
    truth = pd.concat([c.truth for c in chunks], ignore_index=True)
    return generator, events, requests, truth


def digest(config: SyntheticConfig) -> str:
    generator = Generator(config)
    sha = hashlib.sha256(generator.catalog.frame().to_csv(index=False).encode())
    for chunk in generator.chunks():
        for frame in (chunk.events, chunk.requests, chunk.truth):
            sha.update(frame.to_csv(index=False).encode())
    s = generator.summary
    counts = (s.lists, s.randomised_lists, s.sessions, s.events, s.by_type)
    positions = (s.impressions_at.tolist(), s.clicks_at.tolist(), s.relevance_counts.tolist())
    sha.update(repr((*counts, *positions, s.first_timestamp, s.last_timestamp)).encode())
    return sha.hexdigest()


@pytest.mark.parametrize(("config", "expected"), DIGESTS)
def test_a_seed_gives_exactly_the_data_it_always_gave(config, expected):
    assert digest(config) == expected


def test_the_same_seed_gives_the_same_data():
    _, first, _, _ = generate(seed=5)
    _, second, _, _ = generate(seed=5)
    pd.testing.assert_frame_equal(first, second)


def test_another_seed_gives_other_data():
    _, first, _, _ = generate(seed=5)
    _, second, _, _ = generate(seed=6)
    assert not first["event_id"].isin(second["event_id"]).any()


def test_it_stops_at_about_the_requested_number_of_events():
    generator, events, _, _ = generate(events=20_000)
    assert 20_000 <= len(events) <= 20_000 + 40
    assert generator.summary.events == len(events)


def test_event_ids_are_unique_uuid4s():
    _, events, _, _ = generate()
    assert events["event_id"].is_unique
    assert events["event_id"].str.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}").all()


def test_lists_hold_10_to_20_products_with_positions_from_1():
    _, events, requests, _ = generate()
    sizes = requests["product_ids"].map(len)
    assert sizes.between(10, 20).all()
    impressions = events[events.event_type == "impression"]
    per_list = impressions.groupby("request_id")["position"].agg(["min", "max", "count"])
    assert (per_list["min"] == 1).all()
    assert (per_list["max"] == per_list["count"]).all()


def test_ctr_falls_with_position_and_funnel_narrows():
    generator, *_ = generate(events=60_000)
    summary = generator.summary
    assert summary.ctr_at(1) > summary.ctr_at(5) > summary.ctr_at(10)
    assert 0.01 < summary.ctr < 0.10
    assert summary.by_type["click"] > summary.by_type["add_to_cart"] > summary.by_type["purchase"] > 0


def test_about_five_percent_of_lists_are_randomised():
    generator, *_ = generate(events=60_000)
    share = generator.summary.randomised_lists / generator.summary.lists
    assert 0.02 < share < 0.09


def test_every_shown_product_has_a_true_relevance_from_0_to_3():
    _, events, _, truth = generate()
    impressions = events[events.event_type == "impression"]
    assert len(truth) == len(impressions)
    assert truth["relevance"].between(0, 3).all()
    assert set(truth["relevance"]) == {0, 1, 2, 3}


def test_clicked_products_are_more_relevant_than_skipped_ones():
    _, events, _, truth = generate(events=60_000)
    clicked = events[events.event_type == "click"][["request_id", "product_id"]]
    merged = truth.merge(
        clicked.assign(clicked=True),
        left_on=["request_id", "product_external_id"],
        right_on=["request_id", "product_id"],
        how="left",
    )
    merged["clicked"] = merged["clicked"].fillna(False).astype(bool)
    assert merged[merged.clicked].relevance.mean() > merged[~merged.clicked].relevance.mean() + 0.3


def test_relevance_is_not_text_alone():
    """Among products of the right category, quality and price fit split the grades."""
    generator, _, _, truth = generate(events=40_000)
    quality = generator.catalog.quality
    index = {pid: i for i, pid in enumerate(generator.catalog.external_ids)}
    relevant = truth[truth.relevance > 0]
    q = quality[relevant["product_external_id"].map(index).to_numpy()]
    high = relevant["relevance"].to_numpy() == 3
    assert q[high].mean() > q[~high].mean() + 0.3


def test_queries_follow_a_head_torso_tail_distribution():
    _, _, requests, _ = generate(events=60_000)
    counts = requests["query_norm"].value_counts()
    top_share = counts.iloc[: max(1, len(counts) // 20)].sum() / counts.sum()
    assert top_share > 0.3  # the top 5% of queries carry far more than 5% of searches
    assert (counts == 1).sum() > 0  # and a long tail is seen once


def test_stored_queries_are_in_normal_form():
    _, events, _, _ = generate()
    assert (events["query_norm"] == events["query"].map(text.normalise)).all()


def test_timestamps_span_the_configured_days():
    generator, events, _, _ = generate(events=40_000, days=42)
    span = events["timestamp"].max() - events["timestamp"].min()
    assert span > pd.Timedelta(days=40)
    assert events["timestamp"].min() >= pd.Timestamp(generator.config.start)


def test_a_rating_shows_quality_only_with_noise():
    generator, *_ = generate()
    rated = ~np.isnan(generator.catalog.ratings)
    corr = np.corrcoef(generator.catalog.ratings[rated], generator.catalog.quality[rated])[0, 1]
    assert 0.4 < corr < 0.9


@pytest.mark.parametrize("categories", [0, 99])
def test_it_refuses_an_impossible_number_of_categories(categories):
    with pytest.raises(ValueError, match="categories"):
        Generator(SyntheticConfig(categories=categories))
