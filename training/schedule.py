"""When a cron-style schedule last fired (the slot a scheduled pipeline run belongs to) and
when it fires next (the dashboard).

Pure: takes the schedule's fields as sets of integers (what celery's ``crontab`` parses its
strings into: ``minute``, ``hour``, ``day_of_week`` with Sunday as 0, ``day_of_month``,
``month_of_year``) and a time in the schedule's own timezone.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Crontab(Protocol):
    minute: set[int]
    hour: set[int]
    day_of_week: set[int]
    day_of_month: set[int]
    month_of_year: set[int]


def crontab_last_due(schedule: Crontab, now: dt.datetime, *, max_days: int = 366) -> dt.datetime | None:
    """The latest minute at or before ``now`` at which ``schedule`` fires (every field must
    match, as in celery), or None when it fired on none of the last ``max_days`` days."""
    for days_back in range(max_days + 1):
        day = (now - dt.timedelta(days=days_back)).date()
        if (
            day.month not in schedule.month_of_year
            or day.day not in schedule.day_of_month
            or day.isoweekday() % 7 not in schedule.day_of_week
        ):
            continue
        for hour in sorted(schedule.hour, reverse=True):
            for minute in sorted(schedule.minute, reverse=True):
                due = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=now.tzinfo)
                if due <= now:
                    return due
    return None


def crontab_next_due(schedule: Crontab, now: dt.datetime, *, max_days: int = 366) -> dt.datetime | None:
    """The first minute after ``now`` at which ``schedule`` fires, or None when it fires on
    none of the next ``max_days`` days."""
    for days_ahead in range(max_days + 1):
        day = (now + dt.timedelta(days=days_ahead)).date()
        if (
            day.month not in schedule.month_of_year
            or day.day not in schedule.day_of_month
            or day.isoweekday() % 7 not in schedule.day_of_week
        ):
            continue
        for hour in sorted(schedule.hour):
            for minute in sorted(schedule.minute):
                due = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=now.tzinfo)
                if due > now:
                    return due
    return None
