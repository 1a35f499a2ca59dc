"""The people of the synthetic world and what their devices send about them.

In: a `SimulationConfig` and a random generator. Out: a pandas DataFrame, one row per person:
consented face attributes (Monk skin tone, undertone, face shape; the generator draws them for
everyone, and `consented` says whether the device may send them), app platform and version
schedule, and how active the person is (try-on and shop sessions per week).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from glamcast.simulator.config import (
    FACE_SHAPE_MIX,
    PLATFORM_MIX,
    SKIN_TONE_MIX,
    UNDERTONE_MIX,
    SimulationConfig,
)

#: App versions in use at the start of the window, with their shares, and the one released
#: during it (people upgrade gradually after its release day).
APP_VERSIONS_AT_START = {"4.6.2": 0.3, "4.7.0": 0.7}
APP_VERSION_RELEASED = "4.8.1"
WEB_VERSION = "web-2.14.0"
#: Mean days between the release and a person's upgrade (exponential).
UPGRADE_DELAY_DAYS = 9.0
#: Shape of the gamma distribution of activity: small → a few heavy users, many light ones.
ACTIVITY_SHAPE = 1.4


def _draw(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    probs = np.array(list(mix.values()))
    return rng.choice(np.array(list(mix), dtype=object), size=n, p=probs / probs.sum())


def make_users(config: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    """The people DataFrame, sorted by `user_id` (``u000000``...)."""
    n = config.users
    tones = rng.choice(np.arange(1, 11), size=n, p=np.asarray(SKIN_TONE_MIX))
    platform = _draw(rng, PLATFORM_MIX, n)
    release_day = config.days // 3
    upgrade_day = release_day + np.ceil(rng.exponential(UPGRADE_DELAY_DAYS, size=n)).astype(int)
    initial_version = _draw(rng, APP_VERSIONS_AT_START, n)
    is_web = platform == "web"
    activity = rng.gamma(ACTIVITY_SHAPE, config.sessions_per_user_per_week / ACTIVITY_SHAPE, n)
    shop = rng.gamma(ACTIVITY_SHAPE, config.shop_sessions_per_user_per_week / ACTIVITY_SHAPE, n)
    return pd.DataFrame(
        {
            "user_id": [f"u{index:06d}" for index in range(n)],
            "skin_tone": tones,
            "undertone": _draw(rng, UNDERTONE_MIX, n),
            "face_shape": _draw(rng, FACE_SHAPE_MIX, n),
            "consented": rng.random(n) < config.consent_share,
            "platform": platform,
            "initial_app_version": np.where(is_web, WEB_VERSION, initial_version),
            "upgraded_app_version": np.where(is_web, WEB_VERSION, APP_VERSION_RELEASED),
            "upgrade_day": np.where(is_web, config.days + 1, upgrade_day),
            "sessions_per_week": activity,
            "shop_sessions_per_week": shop,
        }
    )
