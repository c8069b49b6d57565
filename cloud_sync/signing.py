"""Ed25519 signing (central) and verification (device) of command envelopes.

The signature covers the canonical JSON of the envelope without ``sig``: keys sorted, no
whitespace, UTF-8, timestamps as ISO 8601. Both sides build it from the same dict, so a field
added in transit, a reordered key or a changed value breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloud_sync.errors import SyncError

SIGNED_FIELDS = ("type", "doc_version", "expires_at", "not_before", "body", "key_id")
OPTIONAL_FIELDS = frozenset({"not_before"})  # signed when present; absent in older envelopes


class SignatureError(SyncError):
    """The envelope is not signed by the provisioned key."""


def canonical(envelope: dict[str, Any]) -> bytes:
    """The bytes that are signed: the envelope's signed fields as canonical JSON."""
    return json.dumps(
        {k: envelope[k] for k in SIGNED_FIELDS if k in envelope or k not in OPTIONAL_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(directory: Path, name: str = "central") -> tuple[Path, Path]:
    """Write ``<name>.key`` (private, mode 0600) and ``<name>.pub`` (public) in PEM."""
    directory.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    key_path, pub_path = directory / f"{name}.key", directory / f"{name}.pub"
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_path, pub_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; ``TypeError`` if it is another kind."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ``TypeError`` if it is another kind."""
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"{path}: not an Ed25519 public key")
    return key


class Signer:
    """Central side: produce signed envelopes."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.key_id = key_id(private_key.public_key())

    def envelope(
        self,
        type_: str,
        doc_version: int,
        expires_at: datetime,
        body: dict[str, Any],
        not_before: datetime | None = None,
    ) -> dict[str, Any]:
        """A signed envelope as a JSON-ready dict (``not_before`` only when given)."""
        if expires_at.tzinfo is None or (not_before is not None and not_before.tzinfo is None):
            raise ValueError("expires_at and not_before must carry a timezone")
        env: dict[str, Any] = {
            "type": type_,
            "doc_version": doc_version,
            "expires_at": expires_at.isoformat(),
            "body": body,
            "key_id": self.key_id,
        }
        if not_before is not None:
            env["not_before"] = not_before.isoformat()
        env["sig"] = base64.b64encode(self._key.sign(canonical(env))).decode("ascii")
        return env


class Verifier:
    """Device side: check that an envelope dict was signed by the provisioned central key."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._key = public_key
        self.key_id = key_id(public_key)

    def verify(self, envelope: dict[str, Any]) -> None:
        """Raise SignatureError unless ``envelope`` carries a valid signature of our key."""
        sig = envelope.get("sig")
        if not isinstance(sig, str) or not sig:
            raise SignatureError("unsigned")
        if envelope.get("key_id") != self.key_id:
            raise SignatureError("unknown key_id")
        try:
            raw = base64.b64decode(sig, validate=True)
            self._key.verify(raw, canonical(envelope))
        except (InvalidSignature, ValueError, TypeError, KeyError) as err:
            raise SignatureError("bad signature") from err
