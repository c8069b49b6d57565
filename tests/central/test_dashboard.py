"""The Grafana dashboard shipped as code runs against the real ingest schema.

Grafana itself is not a Debian package; what can break on our side is the SQL: every panel's
query (with Grafana's time macro expanded as Grafana does) must run on a migrated database and
read the columns the panel shows, and the panels must use the provisioned data source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import yaml

from cloud_sync.ingest.schema import migrate
from tests.postgres import TempPostgres

GRAFANA = Path(__file__).resolve().parents[2] / "config" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "zonegate-fleet.json"


def expand_macros(sql: str) -> str:
    """Grafana's PostgreSQL ``$__timeFilter(col)`` -> a BETWEEN over the last 24 h."""
    return re.sub(
        r"\$__timeFilter\((\w+)\)",
        r"\1 BETWEEN now() - interval '24 hours' AND now()",
        sql,
    )


async def test_every_panel_query_runs_on_the_migrated_schema(postgres: TempPostgres) -> None:
    dash: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "zonegate.yaml").read_text()
    )["datasources"][0]
    assert dash["panels"], "no panels"
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as conn:
        await migrate(conn)
        await conn.execute(
            "INSERT INTO devices (site, device, online, boot_id, last_seen)"
            " VALUES ('s', 'gw-off', false, 'b', now())"
        )
        await conn.execute(
            "INSERT INTO presence_state (site, device, inside, at) VALUES ('s', 'gw-off',"
            ' \'[{"worker_id": "W1", "role": "guardian", "since": "08:00"}]\', now())'
        )
        await conn.execute(
            "INSERT INTO events (event_id, site, device, boot_id, seq, kind, type, lane,"
            " wall_time, wall_trusted, historical, payload) VALUES"
            " ('00000000-0000-4000-8000-000000000001', 's', 'gw-off', 'b', 1, 'alert',"
            " 'gas_alarm', 'critical', now(), true, false,"
            ' \'{"gas": "co", "value": 85, "inside": [{"worker_id": "W1"}]}\')'
        )
        results: dict[str, list[tuple[Any, ...]]] = {}
        for panel in dash["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
            for target in panel["targets"]:
                cur = await conn.execute(expand_macros(target["rawSql"]).encode())
                results[panel["title"]] = await cur.fetchall()
        await conn.execute("TRUNCATE events, devices, presence_state")
    assert results["设备离线 Devices offline"][0][1] == "gw-off"
    alarms = results["未确认气体报警 Open gas alarms (who was inside)"]
    assert alarms[0][3] == "co" and alarms[0][5] == 1  # gas, people inside
    assert results["区域内人员 Who is inside"] == [("s", "gw-off", "W1", "guardian", "08:00")]
