"""The pure parts of erasure: a recommender without some people, the stream filter, id checks
(no services; the whole erasure runs in tests/integration/platform/test_erasure.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from glamcast.core.events import SocialEvent, TryOnEvent
from glamcast.core.settings import Settings
from glamcast.platform.erasure import ErasedPeople, check_ids, without_users
from models.recommender_pyfunc import FactorRecommender

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def recommender() -> FactorRecommender:
    rng = np.random.default_rng(3)
    users, items = ["ann", "bob", "cat"], ["p1", "p2", "p3", "p4"]
    seen_users, seen_items = [0, 0, 1, 2, 2], [0, 1, 2, 0, 3]
    return FactorRecommender.build(users, items, rng.normal(size=(3, 4)), rng.normal(size=(4, 4)),
                                   None, seen_users, seen_items, np.array([2.0, 1, 1, 1]))


def test_without_users_drops_their_vectors_and_history_and_keeps_everyone_else() -> None:
    full = recommender()
    redacted = without_users(full, ["bob"])
    assert redacted.user_ids.tolist() == ["ann", "cat"]
    assert redacted.knows(["ann", "bob", "cat"]).tolist() == [True, False, True]
    assert np.array_equal(redacted.user_factors, full.user_factors[[0, 2]])
    assert redacted.seen(0).tolist() == [0, 1] and redacted.seen(1).tolist() == [0, 3]
    assert redacted.recommend(["ann", "cat"], 4).equals(full.recommend(["ann", "cat"], 4))
    assert (redacted.recommend(["bob"], 2)["source"] == "popularity").all()  # a new person now


def tryon(user: str) -> TryOnEvent:
    return TryOnEvent(event_id=f"e-{user}", ts=T0, user_id=user, session_id="s", action="like",
                      product_id="p1", category="blush", shade_hex="#C04060", finish="matte",
                      dwell_ms=1, platform="web", app_version="1")


def test_the_stream_filter_drops_events_naming_an_erased_person() -> None:
    erased = ErasedPeople(Settings())
    events = [tryon("ann"), tryon("bob"),
              SocialEvent(event_id="s1", ts=T0, platform="tiktok", post_id="s1",
                          author_id="bob", lang="en")]
    assert erased.drop(events, [5, 6, 7]) == (events, [5, 6, 7], 0)
    erased.ids.add("bob")
    assert erased.drop(events, [5, 6, 7]) == ([events[0]], [5], 2)


def test_ids_are_checked_and_deduplicated() -> None:
    assert check_ids(["b", "a", "b"]) == ["b", "a"]
    for bad in ([], [""], ["x" * 129]):
        with pytest.raises(ValueError):
            check_ids(bad)
