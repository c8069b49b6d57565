"""The shipped mosquitto files (config/mosquitto/) rendered for a test broker.

Only what a site must fill in anyway is replaced: ports, certificate, password and ACL paths,
the persistence directory, and the site in the ACL (``@SITE@``). A replacement that no longer
matches the shipped file fails loudly, so the tests keep testing what is shipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tests.pki import Pki

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONF = REPO / "config" / "mosquitto" / "mosquitto.conf"
SHIPPED_ACL = REPO / "config" / "mosquitto" / "zonegate.acl"
SITE_PLACEHOLDER = "@SITE@"


def render_acl(dest: Path, sites: Iterable[str]) -> Path:
    """The shipped ACL with each ``@SITE@`` line repeated once per site; returns ``dest``."""
    names = list(sites)
    lines: list[str] = []
    for line in SHIPPED_ACL.read_text(encoding="utf-8").splitlines():
        if SITE_PLACEHOLDER in line:
            lines += [line.replace(SITE_PLACEHOLDER, site) for site in names]
        else:
            lines.append(line)
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def render_conf(
    directory: Path,
    pki: Pki,
    *,
    device_port: int,
    central_port: int,
    device_passwd: Path,
    central_passwd: Path,
    acl: Path,
) -> Path:
    """The shipped mosquitto.conf with test paths and ports; returns the written file."""
    text = SHIPPED_CONF.read_text(encoding="utf-8")
    (directory / "data").mkdir(parents=True, exist_ok=True)
    replacements = {
        "listener 8883": f"listener {device_port} 127.0.0.1",
        "listener 8884": f"listener {central_port} 127.0.0.1",
        "/etc/mosquitto/certs/ca.crt": str(pki.ca_cert),
        "/etc/mosquitto/certs/server.crt": str(pki.server_cert),
        "/etc/mosquitto/certs/server.key": str(pki.server_key),
        "/etc/mosquitto/zonegate-devices.passwd": str(device_passwd),
        "/etc/mosquitto/zonegate-central.passwd": str(central_passwd),
        "/etc/mosquitto/zonegate.acl": str(acl),
        "/var/lib/mosquitto/": f"{directory / 'data'}/",
    }
    for shipped, local in replacements.items():
        if shipped not in text:
            raise AssertionError(
                f"{SHIPPED_CONF} has no {shipped!r}: update tests/broker_config.py"
            )
        text = text.replace(shipped, local)
    settings = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    if any("/etc/" in line or "/var/" in line for line in settings):
        raise AssertionError(f"{SHIPPED_CONF} names a path this renderer does not replace")
    text += f"\nuser root\nlog_dest file {directory / 'mosquitto.log'}\n"
    conf = directory / "mosquitto.conf"
    conf.write_text(text, encoding="utf-8")
    return conf
