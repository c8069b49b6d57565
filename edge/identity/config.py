"""Configuration of face verification and the camera (placeholder until the face capability lands)."""

from __future__ import annotations

from pydantic import Field

from edge.configbase import Section


class IdentityConfig(Section):
    """Face verification at badge-in."""

    enabled: bool = Field(default=False, description="verify the face against the badge owner")
