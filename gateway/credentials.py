"""Where the service's systemd credentials are, in the service and outside it.

``zonegate provision`` writes the secrets to ``/etc/zonegate/credentials`` and the YAML names
them where systemd shows them to the running unit (``LoadCredential=`` ->
``/run/credentials/zonegate.service``). Run by hand (``zonegate run`` on a bench, a technician's
``selftest``), the same files are found through ``$CREDENTIALS_DIRECTORY``, as systemd would set
it: ``sudo CREDENTIALS_DIRECTORY=/etc/zonegate/credentials zonegate run``. Sealed credentials
(``provision --seal``) are decrypted for such a run first (``gateway.credential_sealing``).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.identity.config import IdentityConfig

# Where systemd (252) exposes LoadCredential= files to the running unit.
SERVICE_CREDENTIALS_DIR = Path("/run/credentials/zonegate.service")
CREDENTIALS_DIR = Path("/etc/zonegate/credentials")


def credential_path(path: Path, credentials_dir: Path | None = None) -> Path:
    """``path`` itself when it exists; a path under the service's credentials directory mapped
    to ``$CREDENTIALS_DIRECTORY`` (else ``credentials_dir``) when run outside the unit."""
    if path.exists():
        return path
    if path.is_relative_to(SERVICE_CREDENTIALS_DIR):
        env = os.environ.get("CREDENTIALS_DIRECTORY")
        base = Path(env) if env else credentials_dir
        if base is not None:
            return base / path.relative_to(SERVICE_CREDENTIALS_DIR)
    return path


def identity_with_key_found(config: IdentityConfig, state_dir: Path) -> IdentityConfig:
    """``config`` with its face-encoding key where this process sees it: a key named under the
    service's credentials directory (sealed by ``provision --seal``) maps like
    ``credential_path``.

    Raises ``FileNotFoundError`` when that credential is not there: a key is never created in
    its place (one made in a temporary credentials directory would be lost, and every face
    encrypted under it with it).
    """
    key = config.key_path(state_dir)
    if not key.is_relative_to(SERVICE_CREDENTIALS_DIR):
        return config
    found = credential_path(key)
    if not found.exists():
        raise FileNotFoundError(
            errno.ENOENT,
            "the sealed face-encoding key is not loaded (the unit's sealed.conf "
            "LoadCredentialEncrypted=identity-key; by hand: run as root, where "
            "/etc/zonegate/credentials holds identity-key.cred)",
            str(key),
        )
    return config.model_copy(update={"key_file": found})
