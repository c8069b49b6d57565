"""Configuration of the MQTT link to central (placeholder until the sync capability lands)."""

from __future__ import annotations

from pydantic import Field

from edge.configbase import Section


class MqttConfig(Section):
    """Broker connection, credentials and the central key."""

    enabled: bool = Field(default=False, description="sync with a central broker")
