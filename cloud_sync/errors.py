"""The root of every error the sync layer raises on purpose (link, signing, commands)."""

from __future__ import annotations


class SyncError(Exception):
    """Base of the cloud_sync layer's errors."""
