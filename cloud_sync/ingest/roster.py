"""The rosters central holds, loaded into ``roster_certificates`` for the expiry notices.

Input is what central signs and sends as ``roster_update`` (``{"workers": [...]}``, or a bare
list of workers): the same ``Worker`` model the gateways validate, so a roster central can send
is a roster it can load. A worker's rows are replaced as a whole (a renewed certificate replaces
the expiring one). The ``certificate_expiry_warnings`` view then gives the 30 / 15-day notices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from pydantic import TypeAdapter

from edge.models import Worker

_WORKERS = TypeAdapter(list[Worker])


def parse_roster(document: Any) -> list[Worker]:
    """Workers from a roster document; raises ``pydantic.ValidationError`` naming the field."""
    if isinstance(document, dict) and "workers" in document:
        document = document["workers"]
    return _WORKERS.validate_python(document)


async def load_roster(
    conn: psycopg.AsyncConnection[Any], workers: Iterable[Worker], source: str
) -> int:
    """Replace these workers' certificate rows in one transaction; return rows written."""
    rows = 0
    async with conn.transaction(), conn.cursor() as cur:
        for w in workers:
            await cur.execute(
                "DELETE FROM roster_certificates WHERE worker_id = %s", (w.worker_id,)
            )
            for c in w.certificates:
                await cur.execute(
                    "INSERT INTO roster_certificates (worker_id, worker_name, certificate_no,"
                    " category, issued, expires, review_due, source)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        w.worker_id,
                        w.name,
                        c.number,
                        str(c.category),
                        c.valid_from,
                        c.valid_to,
                        c.next_review,
                        source,
                    ),
                )
                rows += 1
    return rows
