"""Errors and warnings a technician reads, carrying their zh-CN and English text.

Config and roster validators raise ``BilingualValueError`` instead of a plain ``ValueError``:
pydantic keeps the raised exception in ``errors()[i]["ctx"]["error"]`` for a ``value_error``,
and ``gateway.config_messages.pydantic_message`` shows its ``zh`` or ``en`` by the technician's
language (``--lang``, ``device.language``). Warnings that check-config prints subclass
``BilingualWarning`` the same way. ``str()`` of either is the English, so logs, tests and code
that match the English text keep working.

Here, at the bottom layer, so every layer's validators can raise it (the import contract lets a
layer import only the layers below it). The language is given as its code (``"zh-CN"``, ``"en"``,
or ``edge.reasons.Lang``, a ``StrEnum`` of the same codes): this layer cannot import ``Lang``.
"""

from __future__ import annotations

ENGLISH = "en"


class Bilingual(Exception):
    """The two texts of an error or a warning: English (``en``, also ``str()``) and zh-CN."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh

    def text(self, lang: str) -> str:
        """The text in ``lang`` (``"en"`` is English; anything else zh-CN)."""
        return self.en if str(lang) == ENGLISH else self.zh


class BilingualValueError(Bilingual, ValueError):
    """A ``ValueError`` with its message in English (``en``, also ``str()``) and zh-CN (``zh``).

    Raise it from a pydantic validator whose message a technician or a worker can read; keep
    clause references (GB 30871 §6.4, GBZ 2.1) in both.
    """


class BilingualWarning(Bilingual, UserWarning):
    """A warning with its English (``en``, also ``str()``) and zh-CN (``zh``) text.

    check-config prints ``text(lang)``; subclasses name the kind of warning (a looser limit, a
    monitor gap, an indicator-only sensor) so callers can filter them with ``warnings``.
    """
