"""What people pick: categories from their interests, products by utility and trends (softmax).

In: the world, who is choosing, on which day, and a random generator. Out: category or product
indices. Sampling from a softmax uses the Gumbel-max trick (argmax of logits + Gumbel noise),
which vectorizes over all choices of a day at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from glamcast.simulator.world import World


def choose_categories(
    world: World, users: np.ndarray, day: int, rng: np.random.Generator
) -> np.ndarray:
    """(n,) category index per chooser: personal interest × the day's category buzz."""
    weights = world.tastes.category[users] * world.curves.category[:, day] ** world.config.trend_influence
    cumulative = np.cumsum(weights, axis=1)
    draws = rng.random(len(users)) * cumulative[:, -1]
    return (cumulative < draws[:, None]).sum(axis=1)


def choose_products(
    world: World, users: np.ndarray, categories: np.ndarray, day: int, rng: np.random.Generator
) -> np.ndarray:
    """(n,) product index per chooser, within the given category, among launched products."""
    chosen = np.empty(len(users), dtype=np.int64)
    for category in np.unique(categories):
        rows = np.flatnonzero(categories == category)
        candidates = world.products_by_category[category]
        logits = (
            world.config.choice_sharpness * world.tastes.z[users[rows][:, None], candidates]
            + world.boost[candidates, day]  # trend pull, freshness, and -inf before launch
            + rng.gumbel(size=(rows.size, candidates.size))
        )
        chosen[rows] = candidates[np.argmax(logits, axis=1)]
    return chosen
