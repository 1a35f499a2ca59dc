"""Calendar rhythms: shopping holidays, the weekly cycle, and the hour-of-day profile.

In: a window of dates. Out: per-day multipliers (weekly rhythm, holiday bumps) and an
hour-of-day distribution that the try-on, commerce and social generators draw times from.
Times are UTC; the audience is treated as one time zone, which keeps the daily rhythm visible.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

#: Try-on and shop activity by weekday, Monday first (weekend evenings are busiest).
WEEKLY_ACTIVITY = np.array([0.92, 0.90, 0.95, 1.00, 1.06, 1.12, 1.10])
#: Social posting by weekday, Monday first.
WEEKLY_POSTING = np.array([0.90, 0.92, 0.95, 1.00, 1.05, 1.15, 1.12])

#: Relative activity per UTC hour 0..23: night trough, getting-ready morning, lunch, evening peak.
HOURLY_ACTIVITY = np.array(
    [0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.40, 0.75, 0.95, 0.85, 0.80, 0.90,
     1.05, 1.00, 0.85, 0.80, 0.85, 0.95, 1.15, 1.40, 1.55, 1.50, 1.20, 0.70]
)
HOUR_PROBABILITIES = HOURLY_ACTIVITY / HOURLY_ACTIVITY.sum()

#: Shopping and beauty holidays: name → (extra try-on/shop activity, extra posting) at the peak.
HOLIDAY_LIFT = {
    "valentines": (0.25, 0.45),
    "618": (0.45, 0.50),
    "singles_day": (0.60, 0.70),
    "black_friday": (0.55, 0.60),
}
#: Days of build-up before a holiday (interest rises) and of fall-off after it.
HOLIDAY_RAMP_BEFORE_DAYS = 6.0
HOLIDAY_RAMP_AFTER_DAYS = 1.5


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=21 + 1)


def holiday_dates(year: int) -> dict[str, date]:
    return {
        "valentines": date(year, 2, 14),
        "618": date(year, 6, 18),
        "singles_day": date(year, 11, 11),
        "black_friday": black_friday(year),
    }


def window_dates(start: date, days: int) -> list[date]:
    return [start + timedelta(days=offset) for offset in range(days)]


def holiday_bumps(start: date, days: int) -> dict[str, np.ndarray]:
    """Per holiday, a (days,) curve: 1 on the day, rising over the days before, gone soon after."""
    offsets = np.arange(days, dtype=np.float64)
    bumps = {}
    for name in HOLIDAY_LIFT:
        curve = np.zeros(days)
        for year in range(start.year - 1, (start + timedelta(days=days)).year + 2):
            distance = offsets - (holiday_dates(year)[name] - start).days  # <0 before the day
            width = np.where(distance < 0, HOLIDAY_RAMP_BEFORE_DAYS, HOLIDAY_RAMP_AFTER_DAYS)
            curve = np.maximum(curve, np.exp(-0.5 * (distance / width) ** 2))
        bumps[name] = curve
    return bumps


def weekday_indices(start: date, days: int) -> np.ndarray:
    """(days,) weekday of each day, Monday = 0."""
    return (start.weekday() + np.arange(days)) % 7


def activity_multipliers(start: date, days: int) -> np.ndarray:
    """(days,) multiplier of try-on and shop sessions: weekly rhythm × holiday lift."""
    bumps = holiday_bumps(start, days)
    lift = sum(HOLIDAY_LIFT[name][0] * bumps[name] for name in HOLIDAY_LIFT)
    return WEEKLY_ACTIVITY[weekday_indices(start, days)] * (1.0 + lift)


def posting_multipliers(start: date, days: int) -> np.ndarray:
    """(days,) multiplier of the number of social posts: weekly rhythm × holiday lift."""
    bumps = holiday_bumps(start, days)
    lift = sum(HOLIDAY_LIFT[name][1] * bumps[name] for name in HOLIDAY_LIFT)
    return WEEKLY_POSTING[weekday_indices(start, days)] * (1.0 + lift)


def sample_times_of_day_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n,) offsets into a day in ms, following `HOURLY_ACTIVITY`."""
    hours = rng.choice(24, size=n, p=HOUR_PROBABILITIES)
    return hours * 3_600_000 + rng.integers(0, 3_600_000, size=n)
