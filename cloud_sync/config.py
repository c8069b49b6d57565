"""Configuration of the MQTT link to central: broker, credentials, central key, flow limits.

The site and device id are not repeated here: they come from ``zone.site`` and
``device.device_id`` of the gateway config, so a topic can never disagree with the zone.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from firmware_adapters.bilingual import BilingualValueError
from firmware_adapters.configbase import Section


class MqttConfig(Section):
    """Broker connection, credentials, the central key and the outbox limits."""

    enabled: bool = Field(default=False, description="sync with a central broker")
    host: str = Field(default="localhost", min_length=1, description="broker host name or IP")
    port: int = Field(default=8883, ge=1, le=65535, description="broker port (8883 = MQTT/TLS)")
    tls: bool = Field(default=True, description="use TLS; plain MQTT only on a trusted loopback")
    ca_file: Path | None = Field(
        default=None, description="CA that signed the broker certificate (PEM); None = system CAs"
    )
    cert_file: Path | None = Field(
        default=None, description="client certificate (PEM) when the broker authenticates by cert"
    )
    key_file: Path | None = Field(default=None, description="private key of cert_file (PEM)")
    username: str | None = Field(
        default=None, description="broker user name; by convention the device id (ACL %u)"
    )
    password_file: Path | None = Field(
        default=None, description="file holding the broker password (first line, mode 0600)"
    )
    password_credential: str | None = Field(
        default=None,
        description="name of a systemd credential (LoadCredential=) holding the password; "
        "read from $CREDENTIALS_DIRECTORY",
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id; default '<site>-<device>'"
    )
    central_public_key: Path | None = Field(
        default=None,
        description="Ed25519 public key (PEM) of central; commands are verified with it",
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive, seconds")
    backoff_initial_s: float = Field(default=0.5, gt=0, description="first reconnect delay")
    backoff_max_s: float = Field(
        default=8.0,
        gt=0,
        description="reconnect delay cap; with jitter in [cap/2, cap] the link is back within "
        "about this long after the broker returns (issue 12.3: within 10 s by default)",
    )
    healthy_after_s: float = Field(
        default=10.0,
        gt=0,
        description="a connection that stayed up this long proved healthy and resets the "
        "backoff; one the broker closes sooner keeps backing off (and is diagnosed)",
    )
    receive_window: int = Field(
        default=32,
        ge=1,
        le=1_000,
        description="commands the broker may send before we acknowledge (MQTT 5 Receive "
        "Maximum); the rest wait at the broker, so none is lost in a client queue",
    )
    max_message_bytes: int = Field(
        default=64 * 1024,
        ge=1_024,
        description="largest event message sent whole; a larger one goes as a summary with its "
        "full payload in parts on detail/{event_id}/{part} (also kept under the broker's limit)",
    )
    publish_timeout_s: float = Field(
        default=30.0, gt=0, description="a PUBACK later than this recycles the connection"
    )
    inflight_window: int = Field(
        default=32,
        ge=1,
        le=1_000,
        description="QoS 1 publishes kept in flight while draining (aiomqtt and paho scan "
        "their pending tables per publish, so bigger is slower beyond a few dozen)",
    )
    batch_size: int = Field(default=500, ge=1, le=10_000, description="journal rows read at once")
    telemetry_downsample_above: int = Field(
        default=5_000,
        ge=0,
        description="telemetry backlog above which telemetry is downsampled (min/max/last per "
        "sensor and window); 0 = never",
    )
    telemetry_window_s: float = Field(
        default=60.0, gt=0, description="downsampling window for telemetry while backlogged"
    )
    max_telemetry_backlog: int = Field(
        default=200_000,
        ge=1,
        description="telemetry rows kept undelivered at most; older ones are dropped (counted). "
        "Alarms, permit and access events are never dropped",
    )
    birth_refresh_s: float = Field(
        default=60.0,
        ge=1.0,
        description="republish the retained birth at least this often (seconds); it is also "
        "republished within a second of any change of clock trust, sensor health, permits, "
        "accepted document versions or presence",
    )
    max_command_bytes: int = Field(
        default=256 * 1024, ge=1024, description="inbound commands larger than this are rejected"
    )

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise BilingualValueError(
                "cert_file and key_file go together",
                "cert_file 与 key_file 须同时填写",
            )
        if self.password_file is not None and self.password_credential is not None:
            raise BilingualValueError(
                "give password_file or password_credential, not both",
                "password_file 与 password_credential 只能填一个",
            )
        if self.backoff_max_s < self.backoff_initial_s:
            raise BilingualValueError(
                "backoff_max_s must be at least backoff_initial_s",
                "backoff_max_s 不能小于 backoff_initial_s",
            )
        if self.enabled and self.central_public_key is None:
            raise BilingualValueError(
                "central_public_key is required: commands are accepted only signed",
                "必须填写 central_public_key：只接受经中心签名的指令",
            )
        return self

    def password(self) -> str | None:
        """The broker password from the file or the systemd credential, without the newline."""
        path: Path | None = self.password_file
        if self.password_credential is not None:
            creds = os.environ.get("CREDENTIALS_DIRECTORY")
            if not creds:
                raise BilingualValueError(
                    f"password_credential {self.password_credential!r} set but "
                    "$CREDENTIALS_DIRECTORY is not (add LoadCredential= to the unit)",
                    f"已设 password_credential {self.password_credential!r}，但未设 "
                    "$CREDENTIALS_DIRECTORY（请在服务单元中加 LoadCredential=）",
                )
            path = Path(creds) / self.password_credential
        if path is None:
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
        # An empty credential means "no password" (client-certificate login).
        return lines[0] if lines and lines[0] else None
