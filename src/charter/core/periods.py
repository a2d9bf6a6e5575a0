"""Periods counted as Regulation (EEC, Euratom) No 1182/71 Art. 3 counts them (the rule EU law uses for deadlines).

- Art. 3(1): the day of the event (e.g. becoming aware) is not counted; the period starts the next day.
- Art. 3(2)(b), 3(3): calendar days, ending with the expiry of the last hour of the last day; Saturdays, Sundays and
  public holidays count.
- Art. 3(4): a period whose last day is a Saturday, Sunday or public holiday ends with the next working day.
- Art. 3(5): a period of two days or more includes at least two working days.

Public holidays come from a configurable calendar (setting `holidays`): Charter does not know which Member
State's holidays apply to you.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from charter.core.errors import InvalidInput


def parse_holidays(text: str | Iterable[str]) -> frozenset[date]:
    """Holiday dates from 'YYYY-MM-DD, YYYY-MM-DD, ...' (or an iterable of such strings; '#' starts a comment)."""
    parts = text.replace("\n", ",").split(",") if isinstance(text, str) else list(text)
    out: set[date] = set()
    for part in parts:
        part = part.split("#", 1)[0].strip()
        if not part:
            continue
        try:
            out.add(date.fromisoformat(part))
        except ValueError:
            raise InvalidInput(
                f"holiday '{part}' is not a date (YYYY-MM-DD) in the holidays calendar (CHARTER_HOLIDAYS)",
                field="holidays",
            ) from None
    return frozenset(out)


def working(day: date, holidays: frozenset[date]) -> bool:
    """Not a Saturday, Sunday or public holiday."""
    return day.weekday() < 5 and day not in holidays


@dataclass(frozen=True, slots=True)
class Period:
    """The last day of a period and the instant it expires (end of that day in the event's time zone)."""

    start: datetime
    days: int
    last_day: date
    ends_at: datetime
    extended_by: tuple[str, ...]


def days_after(event: datetime, days: int, holidays: frozenset[date] = frozenset()) -> Period:
    """A period of `days` days from `event` (naive = UTC), per Reg. 1182/71 Art. 3(1)-(5)."""
    if event.tzinfo is None:
        event = event.replace(tzinfo=UTC)
    start = event.date()  # Art. 3(1): this day is not counted
    last = start + timedelta(days=days)
    notes: list[str] = []
    if not working(last, holidays):
        first = last
        while not working(last, holidays):
            last += timedelta(days=1)
        notes.append(f"{first} is a {_why(first, holidays)}: ends on the next working day, {last} (Art. 3(4))")
    if days >= 2:
        before = last
        while sum(working(start + timedelta(days=i), holidays) for i in range(1, (last - start).days + 1)) < 2:
            last += timedelta(days=1)
            while not working(last, holidays):
                last += timedelta(days=1)
        if last != before:
            notes.append(f"extended to {last} to include two working days (Art. 3(5))")
    ends = datetime.combine(last + timedelta(days=1), time(0), tzinfo=event.tzinfo)
    return Period(event, days, last, ends.astimezone(UTC), tuple(notes))


def _why(day: date, holidays: frozenset[date]) -> str:
    if day in holidays:
        return "public holiday"
    return "Saturday" if day.weekday() == 5 else "Sunday"
