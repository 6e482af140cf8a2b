"""training.schedule: the time a cron-style schedule last fired, checked against celery's
own crontab parsing (its fields are what the function reads)."""

from __future__ import annotations

import datetime as dt

from celery.schedules import crontab

from training.schedule import crontab_last_due, crontab_next_due

UTC = dt.UTC
MONDAY_3AM = crontab(minute=0, hour=3, day_of_week="mon")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_on_the_day_after_the_hour_it_is_that_days_run():
    assert crontab_last_due(MONDAY_3AM, at(2026, 11, 30, 9, 15)) == at(2026, 11, 30, 3, 0)  # a Monday


def test_at_the_minute_itself_it_is_due():
    assert crontab_last_due(MONDAY_3AM, at(2026, 11, 30, 3, 0, 0, 500)) == at(2026, 11, 30, 3, 0)


def test_before_the_hour_it_is_last_weeks_run():
    assert crontab_last_due(MONDAY_3AM, at(2026, 11, 30, 2, 59)) == at(2026, 11, 23, 3, 0)


def test_midweek_it_is_the_last_monday():
    assert crontab_last_due(MONDAY_3AM, at(2026, 12, 3, 12, 0)) == at(2026, 11, 30, 3, 0)


def test_several_hours_and_minutes_give_the_latest_one_passed():
    schedule = crontab(minute="0,30", hour="8-17")
    assert crontab_last_due(schedule, at(2026, 11, 30, 12, 45)) == at(2026, 11, 30, 12, 30)
    assert crontab_last_due(schedule, at(2026, 11, 30, 7, 0)) == at(2026, 11, 29, 17, 30)


def test_a_schedule_that_did_not_fire_within_the_days_looked_at_gives_none():
    leap_day = crontab(minute=0, hour=0, day_of_month=29, month_of_year=2)
    assert crontab_last_due(leap_day, at(2026, 11, 30, 12, 0)) is None  # 2024's is too far back
    assert crontab_last_due(leap_day, at(2026, 11, 30, 12, 0), max_days=1100) == at(2024, 2, 29, 0, 0)


def test_the_next_firing_after_the_hour_is_next_week():
    assert crontab_next_due(MONDAY_3AM, at(2026, 11, 30, 9, 15)) == at(2026, 12, 7, 3, 0)


def test_the_next_firing_before_the_hour_is_today():
    assert crontab_next_due(MONDAY_3AM, at(2026, 11, 30, 2, 59)) == at(2026, 11, 30, 3, 0)


def test_at_the_minute_itself_the_next_firing_is_the_following_one():
    assert crontab_next_due(MONDAY_3AM, at(2026, 11, 30, 3, 0)) == at(2026, 12, 7, 3, 0)
    daily_twice = crontab(minute="0,30", hour=2)
    assert crontab_next_due(daily_twice, at(2026, 11, 30, 2, 0)) == at(2026, 11, 30, 2, 30)
