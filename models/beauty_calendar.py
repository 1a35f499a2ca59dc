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

#: (lower_window, upper_window) in days around each event's date: Prophet fits one effect per
#: day of a window, so a window covers the build-up that a count series shows before the day.
HOLIDAY_WINDOWS: dict[str, tuple[int, int]] = {
    VALENTINES_DAY: (-7, 0),  # gifts and date looks in the week before
    MOTHERS_DAY: (-3, 0),  # gift shopping in the days before the Sunday
    MID_YEAR_618: (-7, 0),  # JD's pre-sales run through the week before the 18th
    SINGLES_DAY: (-7, 1),  # pre-sales, the day itself, the last orders after midnight
    BLACK_FRIDAY: (-7, 0),  # the week of deals before; Cyber Monday has a window of its own
    CYBER_MONDAY: (0, 1),
    CHRISTMAS: (-7, 0),  # the last week of gift shopping; the day itself is quiet
    CHINESE_NEW_YEAR: (-3, 0),  # festive make-up and gifts in the days before
}
# Prophet builds those features for the events whose window touches the fitted range only
# (`models.trend_forecast.calendar_between`): 46 window days in all here, most of them outside
# any one short history.

#: Days before and after an event's date during which a term's growth counts as the event's
#: (the trend classifier's "seasonal spike" windows): the build-up and the return to normal.
SPIKE_WINDOW = (-10, 2)

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


def spike_windows(calendar: pd.DataFrame, around: tuple[int, int] = SPIKE_WINDOW
                  ) -> list[tuple[str, pd.Timestamp, pd.Timestamp]]:
    """(names, first day, last day) of each event's spike window (`around` its date), events
    whose windows overlap merged into one ("black_friday+cyber_monday"), sorted by date."""
    spans = sorted((row.ds + pd.Timedelta(days=around[0]), row.ds + pd.Timedelta(days=around[1]),
                    row.holiday) for row in calendar.itertuples(index=False))
    merged: list[list] = []
    for start, end, name in spans:
        if merged and start <= merged[-1][1] + pd.Timedelta(days=1):
            merged[-1][1] = max(merged[-1][1], end)
            if name not in merged[-1][2]:
                merged[-1][2].append(name)
        else:
            merged.append([start, end, [name]])
    return [("+".join(names), start, end) for start, end, names in merged]


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
