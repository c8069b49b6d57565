"""Times as a technician reads them: the zone's local time to the minute, with its offset.

The stores and the operator API keep UTC ISO 8601 with microseconds (``2026-12-01T04:58:15.965222
+00:00``); printed as such on an Asia/Shanghai zone, a technician reads 04:58 as local time, eight
hours wrong (a fresh-user finding on ``zonegate status`` and ``permit show``). ``--json`` keeps
the stored form; tables show ``2026-12-01 12:58 +08:00``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def shown_time(value: object, tz: tzinfo) -> str:
    """``value`` (ISO 8601 text or a ``datetime``) as ``YYYY-MM-DD HH:MM +HH:MM`` in ``tz``;
    ``-`` for None; text that is not a time is returned as it is (never hidden)."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if when.tzinfo is None:
        return str(value)  # a naive time cannot be placed in a zone: shown as stored
    local = when.astimezone(tz)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
