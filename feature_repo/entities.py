"""Entities: the keys features are stored and served by."""

from __future__ import annotations

from feast import Entity, ValueType

user_entity = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.STRING,
    description="A person using the try-on app (pseudonymous id).",
)
product_entity = Entity(
    name="product",
    join_keys=["product_id"],
    value_type=ValueType.STRING,
    description="A catalog product (one shade of one item).",
)
term_entity = Entity(
    name="term",
    join_keys=["term"],
    value_type=ValueType.STRING,
    description="A trend term, `term_type:term` (hashtag, brand, category, finish, shade_family).",
)
