"""The standard's floors: the weakest value a permit document or the configuration may set.

A signed permit or ``gateway.yaml`` may TIGHTEN every value here (a shorter test age, a shorter
break, a narrower O2 band) but never loosen it: ``effective_gas`` takes the stricter of the
document and the floor, and ``document_loosenings`` names each attempt so it can be journaled
with its clause. Sources: ../shared/reference/safety-rules.md (GB 30871-2022, GBZ 2.1,
原国家安监总局令第30号). Each row of ``FLOORS`` is one rule with its clause, for the note and for
people asking "why was I refused".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from edge.air_limits import GAS_FLOORS, MOLECULAR_WEIGHT, convert
from edge.air_limits import O2_HIGH as O2_HIGH
from edge.air_limits import O2_HIGH_ENRICHED as O2_HIGH_ENRICHED
from edge.air_limits import O2_LOW as O2_LOW
from edge.models import (
    JUDGED_TOXICS,
    RETEST_AFTER_BREAK,
    GasRequirement,
    Permit,
    PermitLevel,
    WorkKind,
    Zone,
)


@dataclass(frozen=True, slots=True)
class Floor:
    """One rule of the standard: what it says, where, and the value no document may loosen."""

    rule: str
    clause: str
    value: str


# Gas test no older than this before start (hot work) or before entry (confined space).
MAX_TEST_AGE = timedelta(minutes=30)
# How far ahead of this gateway's clock a gas test may be dated (another device's clock): a test
# dated later is refused when recorded, never taken as the zone's latest, and stale if judged.
GAS_TEST_CLOCK_SKEW = timedelta(seconds=60)
# Work kinds whose start always needs a passing gas analysis, whatever the document says.
TEST_REQUIRED_KINDS = frozenset({WorkKind.HOT_WORK, WorkKind.CONFINED_SPACE})
# Continuous gas monitoring (a lost or faulty sensor suspends the work, §4 rule 2 of
# safety-rules.md): 特级 hot work (§5.3.1 "continuously during 特级"); 一级 hot work (§5.2.6:
# "where flammable or toxic release is possible, monitor continuously; stop at once on an
# over-limit alarm" -- 一级 is by definition hot work inside a fire / explosion-hazard area,
# §5.1, so release is possible there); confined space (§6.5). 二级 hot work: "as needed".
MONITORED_CONTINUOUSLY: frozenset[tuple[WorkKind, PermitLevel]] = frozenset(
    {
        (WorkKind.HOT_WORK, PermitLevel.HOT_SPECIAL),
        (WorkKind.HOT_WORK, PermitLevel.HOT_1),
        (WorkKind.CONFINED_SPACE, PermitLevel.NONE),
    }
)
# Kinds that may run only in a zone with a gas monitor installed, whatever the level: without
# one no over-limit alarm can ever stop the work (§5.2.6, §6.5), and a fixed hot-work area
# needs a fixed combustible detector with audible and visual alarm (§5.5.2e). A zone with no
# judged gas sensor (``NO_AIR_DATA``) refuses their start, resume and badge-ins and suspends
# them if they are active.
MONITOR_INSTALLED_KINDS = frozenset({WorkKind.HOT_WORK, WorkKind.CONFINED_SPACE})
# Temporary power: normally at most 15 days (a warning past it), never more than 30 (§10.8).
TEMP_POWER_NORMAL = timedelta(days=15)
TEMP_POWER_MAX = timedelta(days=30)
# Kinds temporary power may serve and follow (§10.8).
TEMP_POWER_PARENTS = frozenset({WorkKind.HOT_WORK, WorkKind.CONFINED_SPACE})
# The 3-yearly certificate review (原国家安监总局令第30号 Art. 21), derived when not recorded.
CERT_REVIEW = timedelta(days=3 * 365 + 1)
# How far an untrusted wall clock may be carried forward from the last trusted instant by the
# monotonic clock: monotonic time drifts by parts per million, so this bound is generous; past
# it the zone's time is unknown and no permit may be active.
CLOCK_CARRY_MAX = timedelta(hours=24)

# Gases a passing test must contain for each kind (GB 30871 §5.3.1, §6.4). "combustible" is any
# of COMBUSTIBLE_GASES; a confined space adds the zone's ``confined_space_toxics`` (config).
COMBUSTIBLE_GASES = frozenset({"lel", "combustible", "ch4", "methane"})
REQUIRED_GASES: dict[WorkKind, frozenset[str]] = {
    WorkKind.HOT_WORK: frozenset({"combustible"}),
    WorkKind.CONFINED_SPACE: frozenset({"o2", "combustible"}),
}
# Confined-space O2 band, % vol (§6.4): O2_LOW, O2_HIGH, and O2_HIGH_ENRICHED where the zone is
# oxygen-enriched, from edge.air_limits (one definition for the engine and the judge).


def _pass_ppm(gas: str) -> float:
    # Rounded DOWN to 0.01 ppm, so that rounding can never loosen the limit (17.2 for CO's
    # 17.16 ppm, as written here before, was 0.04 ppm looser than the standard).
    level = GAS_FLOORS[gas].limits
    ppm = convert(level.pass_level() or 0.0, level.unit, "ppm", mw=MOLECULAR_WEIGHT[gas])
    assert ppm is not None  # mg/m3 -> ppm with a molecular weight always converts
    return math.floor(ppm * 100) / 100


# Toxic pass limits for a gas test, ppm at 20 °C, from GBZ 2.1 (PC-TWA, or MAC where only a MAC
# exists): CO 20 mg/m3, H2S MAC 10 mg/m3, NO2 5 mg/m3, SO2 5 mg/m3 (safety-rules.md §3.1),
# derived from the one floor table: 17.16, 7.05, 2.61, 1.87 ppm.
# The same gases a zone may require in every confined-space test (``Zone.confined_space_toxics``).
TOXIC_PASS_PPM: dict[str, float] = {g: _pass_ppm(g) for g in sorted(JUDGED_TOXICS)}

FLOORS: tuple[Floor, ...] = (
    Floor("gas test required before hot work and confined space", "§5.3.1, §6.3a", "always"),
    Floor(
        "test-to-start gap (hot work) and test-to-entry gap (confined space)",
        "§5.3.1c, §6.3a",
        "≤ 30 min",
    ),
    Floor("re-test after a break: 特级 / 一级 hot work", "§5.3.1d", "> 30 min"),
    Floor("re-test after a break: 二级 hot work, confined space", "§5.3.1d, §6.3f", "> 60 min"),
    Floor("hot-work test contains a combustible reading", "§5.3.1, §5.3.2", "combustible"),
    Floor(
        "confined-space test contains O2 and combustible (+ configured toxics)",
        "§6.4",
        "o2, combustible",
    ),
    Floor(
        "combustible pass: LEL ≥ 4 % → ≤ 0.5 % vol, LEL < 4 % → ≤ 0.2 % vol",
        "§5.3.2",
        "0.5 / 0.2 % vol",
    ),
    Floor("confined-space O2 band", "§6.4", "19.5–21 % vol (23.5 enriched)"),
    Floor("toxics within GBZ 2.1", "§6.4", "CO 20, H2S 10 (MAC), NO2 5, SO2 5 mg/m3"),
    Floor(
        "a test newer than the zone's latest alarm for start and resume",
        "§5.2.6, §6.5",
        "after alarm",
    ),
    Floor(
        "document cannot waive the gas test for hot work or confined space",
        "§5.3.1, §6.3a",
        "test_required: true",
    ),
    Floor(
        "continuous monitoring for 特级 / 一级 hot work and confined space",
        "§5.3.1, §5.2.6 (with §5.1), §6.5",
        "required",
    ),
    Floor(
        "hot work and confined space only in a zone with a gas monitor installed",
        "§5.2.6, §5.5.2e, §6.5",
        "NO_AIR_DATA refuses",
    ),
    Floor(
        "first hot work of each local day: the test is that day's, at entry, start, resume",
        "§5.3.1d",
        "daily",
    ),
    Floor("temporary power follows the permit it serves, never runs without it", "§10.8", "linked"),
    Floor("temporary power validity", "§10.8", "normally ≤ 15 d, never > 30 d"),
    Floor(
        "certificate: right category, in date, 3-yearly review",
        "令第30号 Art. 19–22",
        "review ≤ 3 y",
    ),
    Floor("guardian present while an entrant is in a confined space", "§4.10f, §6.8", "present"),
)


# What continuous monitoring must watch for the work to count as monitored: the combustible for
# hot work (the explosion risk hot work exists to avoid, §5.2.6, §5.3.2), O2 and the
# combustible for a confined space (§6.4, §6.5). A zone whose fixed monitors lack one cannot
# run that work as monitored: a CO sensor alone kept a 一级 hot-work zone green while nothing
# watched the combustible (found by a fresh-user test).
MONITORED_GASES: dict[WorkKind, frozenset[str]] = {
    WorkKind.HOT_WORK: frozenset({"lel"}),
    WorkKind.CONFINED_SPACE: frozenset({"o2", "lel"}),
}


def monitoring_required(kind: WorkKind, level: PermitLevel) -> bool:
    """Whether the standard requires continuous gas monitoring for this work (see above)."""
    if kind is WorkKind.CONFINED_SPACE:
        return True
    return (kind, level) in MONITORED_CONTINUOUSLY


def retest_floor(kind: WorkKind, level: PermitLevel) -> timedelta | None:
    """The break after which a re-test is due (§5.3.1d, §6.3f); None where none is set."""
    return RETEST_AFTER_BREAK.get((kind, level))


def effective_gas(permit: Permit) -> GasRequirement:
    """The permit's gas requirement after the floors: the stricter of document and standard."""
    doc = permit.gas
    test_required = doc.test_required or permit.kind in TEST_REQUIRED_KINDS
    max_age = min(doc.max_test_age, MAX_TEST_AGE) if test_required else doc.max_test_age
    floor = retest_floor(permit.kind, permit.level)
    candidates = [d for d in (doc.retest_after_break, floor) if d is not None]
    retest = min(candidates) if candidates else None
    return GasRequirement(
        test_required=test_required,
        max_test_age=max_age,
        retest_after_break=retest,
        continuous_monitoring=doc.continuous_monitoring,
    )


def document_loosenings(permit: Permit) -> list[dict[str, str]]:
    """Each value of the permit document weaker than the standard, with the clause that wins."""
    out: list[dict[str, str]] = []
    doc = permit.gas
    if not doc.test_required and permit.kind in TEST_REQUIRED_KINDS:
        out.append({"field": "gas.test_required", "clause": "§5.3.1, §6.3a", "applied": "true"})
    if doc.max_test_age > MAX_TEST_AGE:
        out.append({"field": "gas.max_test_age", "clause": "§5.3.1c, §6.3a", "applied": "PT30M"})
    floor = retest_floor(permit.kind, permit.level)
    if floor is not None and doc.retest_after_break is not None and doc.retest_after_break > floor:
        out.append(
            {
                "field": "gas.retest_after_break",
                "clause": "§5.3.1d, §6.3f",
                "applied": f"PT{int(floor.total_seconds() // 60)}M",
            }
        )
    if (
        permit.kind is WorkKind.TEMP_POWER
        and permit.valid_to - permit.valid_from > TEMP_POWER_NORMAL
    ):
        out.append({"field": "valid_to", "clause": "§10.8", "applied": "warning: > 15 days"})
    return out


def o2_band(zone: Zone) -> tuple[float, float]:
    """The O2 pass band for a gas test in this zone, % vol (§6.4, §5.2.7)."""
    return (O2_LOW, O2_HIGH_ENRICHED if zone.oxygen_enriched else O2_HIGH)
