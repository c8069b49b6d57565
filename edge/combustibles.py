"""Lower explosive limits (LEL, % vol in air) of the combustibles a zone is judged against.

GB 30871-2022 §5.3.2 sets the hot-work pass criterion by the target gas's LEL (≤ 0.5 % vol if
LEL ≥ 4 %, ≤ 0.2 % vol if below), and a %LEL reading becomes % vol only through that LEL: a
config that gives methane an LEL of 0.5 (the fraction typed for the percent) turns a failing
30 %LEL (1.5 % vol) into a passing 0.15 % vol. So ``zone.target_gas.lel_vol_percent`` is checked
against the published values of a known gas; an unknown name is allowed (a site's own solvent)
but check-config says it could not check it.

Sources: ``low``/``high`` span the values the two common references publish, the NIOSH Pocket
Guide to Chemical Hazards (NIOSH 2007-149, "LEL") and IEC 60079-20-1:2010 (table B, "LFL"),
which differ (methane 5.0 vs 4.4); the reference notes in ``shared/reference/safety-rules.md``
(§5.3.2 table) give methane, hydrogen, H2S, CO, propane, acetylene and toluene. A configured
value is accepted within ``LEL_TOLERANCE`` of that span.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# Relative margin around the published span: rounding and the sources' own spread.
LEL_TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class Combustible:
    """One gas: its canonical name, Chinese name, the LEL span (% vol) and other spellings."""

    name: str
    zh: str
    low: float
    high: float
    aliases: tuple[str, ...] = ()

    def accepts(self, lel_vol_percent: float) -> bool:
        """True when ``lel_vol_percent`` is within the published span (± ``LEL_TOLERANCE``)."""
        return self.low * (1 - LEL_TOLERANCE) <= lel_vol_percent <= self.high * (1 + LEL_TOLERANCE)

    def span(self) -> str:
        """The published LEL as text: ``5.0`` or ``4.4-5.0`` (% vol)."""
        return f"{self.high:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"


COMBUSTIBLES: tuple[Combustible, ...] = (
    Combustible("methane", "甲烷", 4.4, 5.0, ("ch4", "甲烷")),
    Combustible("hydrogen", "氢气", 4.0, 4.0, ("h2", "氢", "氢气")),
    Combustible("hydrogen_sulfide", "硫化氢", 4.0, 4.0, ("h2s", "hydrogen sulphide", "硫化氢")),
    Combustible("carbon_monoxide", "一氧化碳", 10.9, 12.5, ("co", "一氧化碳")),
    Combustible("propane", "丙烷", 1.7, 2.1, ("c3h8", "丙烷")),
    Combustible("butane", "丁烷", 1.4, 1.6, ("n-butane", "c4h10", "丁烷", "正丁烷")),
    Combustible("acetylene", "乙炔", 2.3, 2.5, ("c2h2", "乙炔")),
    Combustible("ethylene", "乙烯", 2.3, 2.7, ("c2h4", "乙烯")),
    Combustible("toluene", "甲苯", 1.0, 1.1, ("甲苯",)),
    Combustible("benzene", "苯", 1.2, 1.2, ("c6h6", "苯")),
    Combustible("ammonia", "氨", 15.0, 15.4, ("nh3", "氨", "氨气")),
    Combustible("methanol", "甲醇", 6.0, 6.0, ("ch3oh", "甲醇")),
    Combustible("ethanol", "乙醇", 3.1, 3.3, ("c2h5oh", "乙醇", "酒精")),
    Combustible("acetone", "丙酮", 2.5, 2.5, ("丙酮",)),
)

_BY_SPELLING: dict[str, Combustible] = {
    spelling.casefold(): gas
    for gas in COMBUSTIBLES
    for spelling in (gas.name, gas.name.replace("_", " "), gas.zh, *gas.aliases)
}


def combustible(name: str) -> Combustible | None:
    """The gas ``name`` spells (English, Chinese or formula, any case), or None if unknown."""
    return _BY_SPELLING.get(name.strip().casefold())


def closest_combustible(name: str) -> str | None:
    """The known spelling nearest to an unknown ``name`` (a typo such as ``metane``), if any."""
    found = difflib.get_close_matches(name.strip().casefold(), list(_BY_SPELLING), n=1)
    return found[0] if found else None
