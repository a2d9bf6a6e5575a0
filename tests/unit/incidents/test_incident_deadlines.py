"""Art. 73(2)-(4) reporting deadlines, counted as Regulation 1182/71 Art. 3 counts periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from charter.core.errors import InvalidInput
from charter.core.periods import days_after, parse_holidays
from charter.incidents.deadline import Kind, compute, rule_for
from charter.settings import Settings

MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # aware on Monday 5 January 2026
FRIDAY = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "days", "article", "last_day"),
    [
        (Kind.DEATH, 10, "Art. 73(4)", date(2026, 1, 15)),
        (Kind.SERIOUS_HARM, 15, "Art. 73(2)", date(2026, 1, 20)),
        (Kind.CRITICAL_INFRASTRUCTURE, 2, "Art. 73(3)", date(2026, 1, 7)),
        (Kind.FUNDAMENTAL_RIGHTS, 15, "Art. 73(2)", date(2026, 1, 20)),
        (Kind.PROPERTY_ENVIRONMENT, 15, "Art. 73(2)", date(2026, 1, 20)),
    ],
)
def test_art_73_period_per_kind_counted_from_the_day_after_awareness(
    kind: Kind, days: int, article: str, last_day: date
) -> None:
    """Art. 73(2) 15 days, 73(3) 2 days, 73(4) 10 days; Reg. 1182/71 Art. 3(1): the awareness day is not counted."""
    rule = rule_for(kind)
    assert (rule.days, rule.article) == (days, article)
    due = compute(MONDAY, rule)
    assert due.last_day == last_day and due.extended_by == ()
    assert due.due_at == datetime(last_day.year, last_day.month, last_day.day + 1, tzinfo=UTC)  # end of the last day


@pytest.mark.parametrize(
    ("kind", "last_day"),
    [
        (Kind.DEATH, date(2026, 1, 19)),  # Mon 19: 10 days end Mon (no shift)
        (Kind.SERIOUS_HARM, date(2026, 1, 26)),  # Sat 24 → Mon 26
        (Kind.CRITICAL_INFRASTRUCTURE, date(2026, 1, 13)),  # Sun 11 → Mon 12, then two working days → Tue 13
        (Kind.FUNDAMENTAL_RIGHTS, date(2026, 1, 26)),
        (Kind.PROPERTY_ENVIRONMENT, date(2026, 1, 26)),
    ],
)
def test_weekend_end_moves_to_the_next_working_day(kind: Kind, last_day: date) -> None:
    """Reg. 1182/71 Art. 3(4) (Saturday/Sunday → next working day) and Art. 3(5) (two working days at least)."""
    assert compute(FRIDAY, rule_for(kind)).last_day == last_day


def test_critical_infrastructure_over_a_weekend_includes_two_working_days() -> None:
    """Reg. 1182/71 Art. 3(5): aware Friday, 2 days end Sunday → Monday → Tuesday (Mon and Tue are working)."""
    due = compute(FRIDAY, rule_for(Kind.CRITICAL_INFRASTRUCTURE))
    assert due.last_day == date(2026, 1, 13)
    assert any("Art. 3(4)" in n for n in due.extended_by) and any("Art. 3(5)" in n for n in due.extended_by)
    assert "Art. 3(5)" in due.explain()


@pytest.mark.parametrize("kind", list(Kind))
def test_public_holiday_end_from_the_configured_calendar(kind: Kind) -> None:
    """Reg. 1182/71 Art. 3(4): a last day that is a public holiday (from the calendar) ends the next working day."""
    plain = compute(MONDAY, rule_for(kind))
    holidays = frozenset({plain.last_day})
    moved = compute(MONDAY, rule_for(kind), holidays)
    assert moved.last_day > plain.last_day and moved.last_day.weekday() < 5
    assert any("public holiday" in n for n in moved.extended_by)


def test_christmas_holidays_and_time_zone_of_awareness() -> None:
    """Reg. 1182/71 Art. 3(2)(b): the period ends with the last hour of its last day, in the awareness time zone."""
    from datetime import timedelta, timezone

    cet = timezone(timedelta(hours=1))
    aware = datetime(2026, 12, 23, 10, 0, tzinfo=cet)
    due = compute(aware, rule_for(Kind.CRITICAL_INFRASTRUCTURE), frozenset({date(2026, 12, 25)}))
    assert due.last_day == date(2026, 12, 28)  # Fri 25 holiday, Sat, Sun → Mon 28
    assert due.due_at == datetime(2026, 12, 28, 23, 0, tzinfo=UTC)  # midnight CET


def test_widespread_infringement_is_two_days() -> None:
    """Art. 73(3): a widespread infringement is reported within 2 days whatever its kind."""
    rule = rule_for(Kind.FUNDAMENTAL_RIGHTS, widespread=True)
    assert rule.days == 2 and rule.article == "Art. 73(3)"
    assert rule_for(Kind.CRITICAL_INFRASTRUCTURE, widespread=True).days == 2


def test_holiday_calendar_setting_is_parsed_and_bad_dates_name_the_setting(tmp_path: object) -> None:
    """The holidays calendar: CHARTER_HOLIDAYS as dates or @FILE."""
    assert parse_holidays("2026-12-25, 2026-12-26 # Christmas\n2027-01-01") == {
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2027, 1, 1),
    }
    with pytest.raises(InvalidInput) as err:
        parse_holidays("25/12/2026")
    assert err.value.field == "holidays"
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    cal = tmp_path / "holidays.txt"
    cal.write_text("# DE\n2026-10-03\n")
    assert Settings(holidays=f"@{cal}").holiday_dates == {date(2026, 10, 3)}
    assert days_after(datetime(2026, 10, 1, 12), 2, frozenset({date(2026, 10, 3)})).last_day == date(2026, 10, 5)


@pytest.mark.parametrize(
    ("value", "says"), [("@/nonexistent/holidays.txt", "cannot read"), ("25/12/2026", "YYYY-MM-DD")]
)
def test_a_bad_holiday_calendar_is_refused_at_start_naming_the_setting(value: str, says: str) -> None:
    """CHARTER_HOLIDAYS is checked when the settings load (so `charter serve` refuses to start, exit 2), not when
    someone reports an incident (a missing @FILE was a 500 there, bad dates a 422 blaming the reporter)."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        Settings(holidays=value)
    assert "CHARTER_HOLIDAYS" in str(err.value) and says in str(err.value)


def test_the_holiday_file_is_read_once_when_the_settings_load(tmp_path: object) -> None:
    """A calendar file removed or broken after start does not turn each incident report into a 500."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    cal = tmp_path / "holidays.txt"
    cal.write_text("2026-12-25\n")
    settings = Settings(holidays=f"@{cal}")
    cal.unlink()
    assert settings.holiday_dates == {date(2026, 12, 25)}
