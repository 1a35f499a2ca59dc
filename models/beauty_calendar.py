"""The beauty-retail holiday calendar, as Prophet's ``holidays`` DataFrame.

`beauty_holidays(first_year, last_year)` gives one row per occurrence: columns ``holiday``,
``ds``, ``lower_window`` and ``upper_window`` (days before/after the date that belong to the
event; Prophet fits one effect per day of the window). Which events, and their windows, are
configurable: `names` picks from `HOLIDAY_WINDOWS`, `windows` overrides a window.

Dates: Valentine's Day 14 Feb; Mother's Day the second Sunday of May (US); 618 (JD.com's
mid-year festival) 18 Jun; Singles' Day 11 Nov; Black Friday the day after US Thanksgiving
(fourth Thursday of November) and Cyber Monday the Monday after it; Christmas 25 Dec; Chinese New
Year the first day of the Spring Festival (lunisolar, from the `holidays` package).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import holidays as holiday_rules
import pandas as pd

VALENTINES_DAY = "valentines_day"
MOTHERS_DAY = "mothers_day"
MID_YEAR_618 = "mid_year_618"
SINGLES_DAY = "singles_day"
BLACK_FRIDAY = "black_friday"
CYBER_MONDAY = "cyber_monday"
CHRISTMAS = "christmas"
CHINESE_NEW_YEAR = "chinese_new_year"

#: (lower_window, upper_window) in days around each event's date.
HOLIDAY_WINDOWS: dict[str, tuple[int, int]] = {
    VALENTINES_DAY: (-3, 0),  # gifts are bought in the days before
    MOTHERS_DAY: (-3, 0),  # gift shopping in the days before the Sunday
    MID_YEAR_618: (-2, 0),  # pre-sales peak just before the 18th
    SINGLES_DAY: (-2, 0),  # pre-sales, then the day itself
    BLACK_FRIDAY: (0, 0),  # a window of its own next to Cyber Monday would overlap it
    CYBER_MONDAY: (0, 0),
    CHRISTMAS: (-7, 0),  # the last week of gift shopping; the day itself is quiet
    CHINESE_NEW_YEAR: (-3, 0),  # festive make-up and gifts in the days before
}
# Prophet fits one effect per day of a window, and building those features is most of a fit's
# cost: 28 days in all here (a window of a week for every event would be 64, ~40% slower fits).

#: Every event, in calendar order; the default selection.
DEFAULT_HOLIDAYS: tuple[str, ...] = tuple(HOLIDAY_WINDOWS)

HOLIDAY_COLUMNS = ("holiday", "ds", "lower_window", "upper_window")


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The `n`-th `weekday` (Monday=0) of a month: nth_weekday(2024, 5, 6, 2) is 12 May 2024."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _chinese_new_year(year: int) -> date:
    spring_festival = [
        day for day, name in holiday_rules.China(years=year).items()
        if name.startswith("Chinese New Year (Spring Festival)")
    ]
    if not spring_festival:
        raise ValueError(f"the holidays package has no Chinese New Year for {year}")
    return min(spring_festival)


def holiday_date(name: str, year: int) -> date:
    """The date of event `name` in `year`."""
    if name == VALENTINES_DAY:
        return date(year, 2, 14)
    if name == MOTHERS_DAY:
        return nth_weekday(year, 5, 6, 2)
    if name == MID_YEAR_618:
        return date(year, 6, 18)
    if name == SINGLES_DAY:
        return date(year, 11, 11)
    if name == BLACK_FRIDAY:
        return nth_weekday(year, 11, 3, 4) + timedelta(days=1)
    if name == CYBER_MONDAY:
        return nth_weekday(year, 11, 3, 4) + timedelta(days=4)
    if name == CHRISTMAS:
        return date(year, 12, 25)
    if name == CHINESE_NEW_YEAR:
        return _chinese_new_year(year)
    raise ValueError(f"unknown holiday {name!r}; known: {', '.join(HOLIDAY_WINDOWS)}")


def beauty_holidays(
    first_year: int,
    last_year: int,
    names: Iterable[str] = DEFAULT_HOLIDAYS,
    windows: Mapping[str, tuple[int, int]] | None = None,
) -> pd.DataFrame:
    """Prophet's holidays frame for the events `names` in years first_year..last_year.

    `windows` overrides `HOLIDAY_WINDOWS` per event. Columns: `HOLIDAY_COLUMNS`, sorted by date.
    """
    chosen = dict(HOLIDAY_WINDOWS)
    chosen.update(windows or {})
    rows = []
    for name in names:
        if name not in chosen:
            raise ValueError(f"unknown holiday {name!r}; known: {', '.join(HOLIDAY_WINDOWS)}")
        lower, upper = chosen[name]
        if lower > 0 or upper < 0:
            raise ValueError(f"window of {name!r} must include its day: got ({lower}, {upper})")
        for year in range(first_year, last_year + 1):
            rows.append((name, pd.Timestamp(holiday_date(name, year)), lower, upper))
    frame = pd.DataFrame(rows, columns=list(HOLIDAY_COLUMNS))
    frame["lower_window"] = frame["lower_window"].astype("int64")
    frame["upper_window"] = frame["upper_window"].astype("int64")
    return frame.sort_values(["ds", "holiday"], kind="stable").reset_index(drop=True)


def holiday_names_by_day(calendar: pd.DataFrame) -> pd.Series:
    """Each day covered by an event window → the event names on it ("a+b" when they overlap)."""
    if calendar.empty:
        return pd.Series(dtype=object)
    days = []
    for row in calendar.itertuples(index=False):
        for offset in range(row.lower_window, row.upper_window + 1):
            days.append((row.ds + pd.Timedelta(days=offset), row.holiday))
    frame = pd.DataFrame(days, columns=["ds", "holiday"]).drop_duplicates()
    return frame.groupby("ds")["holiday"].agg(lambda names: "+".join(sorted(names)))
