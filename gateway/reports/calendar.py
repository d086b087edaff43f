"""Local calendars as timelines: the report period, school days, opening hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from gateway.reports.config import ReportsSection
from gateway.reports.timeline import Timeline


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9


def period_bounds(first: date, end: date, reports: ReportsSection) -> tuple[int, int]:
    """[first 00:00, end 00:00) local time, in ns since the epoch."""
    zone = reports.zone
    return _ns(datetime.combine(first, time(), zone)), _ns(datetime.combine(end, time(), zone))


def period_label(first: date, end: date) -> str:
    """`2026-11` for a calendar month, else `2026-11-02..2026-11-08` (last day inclusive)."""
    next_month = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    if first.day == 1 and end == next_month:
        return first.strftime("%Y-%m")
    return f"{first.isoformat()}..{(end - timedelta(days=1)).isoformat()}"


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((end - first).days)]


def school_days(reports: ReportsSection, site: str, first: date, end: date) -> Timeline:
    """True on every local day of [first, end) that is not one of the site's holidays."""
    zone = reports.zone
    holidays = [h for h in reports.holidays if h.applies_to(site)]
    windows = [
        (
            _ns(datetime.combine(day, time(), zone)),
            _ns(datetime.combine(day + timedelta(1), time(), zone)),
        )
        for day in _days(first, end)
        if not any(h.start <= day <= h.end for h in holidays)
    ]
    return Timeline.constant(windows)


def opening_hours(reports: ReportsSection, first: date, end: date) -> Timeline:
    """True while the science centre is open, on every local day of [first, end)."""
    windows = [reports.opening_window(day) for day in _days(first, end)]
    return Timeline.constant((_ns(a), _ns(b)) for a, b in filter(None, windows))
