"""The one rule for datetimes entering the API: a naive datetime means local time.

Python's own :meth:`datetime.datetime.timestamp` reads a naive datetime as local time, and so
does this package, everywhere (expiry, garbage collection, ``as_of``, virtual chunk
``last_updated_at`` checksums, credential expiries). Reading it as UTC would move a cutoff by
the zone's offset: in a zone east of UTC, "older than an hour ago" would reach into the last
hours and delete recent history.
"""

from __future__ import annotations

import datetime as _dt


def as_aware(when: _dt.datetime) -> _dt.datetime:
    """``when`` as a timezone-aware datetime; a naive one is taken as local time."""
    if not isinstance(when, _dt.datetime):
        raise TypeError(
            f"expected a datetime.datetime, got {type(when).__name__} ({when!r}); for example "
            "datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)"
        )
    return when if when.tzinfo is not None else when.astimezone()


def as_utc(when: _dt.datetime) -> _dt.datetime:
    """``when`` converted to UTC; a naive datetime is taken as local time."""
    return as_aware(when).astimezone(_dt.UTC)


def to_micros(when: _dt.datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is taken as local time."""
    delta = as_aware(when) - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return delta // _dt.timedelta(microseconds=1)
