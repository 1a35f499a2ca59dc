"""`streams.feed_updates.history_features`: products bought in the 7 d before a person's last event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.feed_updates import history_features

T = datetime(2026, 3, 10, 12, tzinfo=UTC)


def row(event_id: str, user: str, product: str, action: str, days_before: float) -> tuple:
    return (event_id, T - timedelta(days=days_before), user, product, action, "lipstick",
            "#F07850", "matte", 1_000, None, None)


def test_purchases_inside_the_window_in_order_once_each() -> None:
    rows = [
        row("e1", "ann", "p1", "purchase", 8),  # outside the 7 d window
        row("e2", "ann", "p2", "purchase", 3),
        row("e3", "ann", "p3", "try_on", 2),
        row("e4", "ann", "p4", "purchase", 1),
        row("e5", "ann", "p2", "purchase", 0.5),  # bought again: listed once
        row("e5", "ann", "p2", "purchase", 0.5),  # a replayed record
        row("e6", "bob", "p1", "try_on", 0),
        row("e7", "ann", "p3", "like", 0),
    ]
    out = history_features(rows).set_index("user_id")
    assert out.loc["ann", "purchased_products_7d"] == ["p2", "p4"]
    assert out.loc["bob", "purchased_products_7d"] == []
    assert out.loc["ann", "event_timestamp"] == T
    assert out.loc["bob", "event_timestamp"] == T


def test_an_event_exactly_seven_days_before_the_latest_is_out() -> None:
    rows = [row("e1", "ann", "p1", "purchase", 7), row("e2", "ann", "p2", "try_on", 0)]
    assert history_features(rows)["purchased_products_7d"].tolist() == [[]]
