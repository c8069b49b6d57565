"""The national catalogue of special operations (特种作业目录): categories and operation items.

Source: 《特种作业人员安全技术培训考核管理规定》 (原国家安全生产监督管理总局令第30号, amended by
令第63号 and 令第80号), annex 特种作业目录; the electrical items as merged by 安监总人事〔2018〕18号
(电力电缆, 继电保护, 电气试验 folded into 高压电工作业). [S]: reproduced on
ikanpan.com/a/202102/783.html and szdgks.com (item 2.1); category list as in
reference/safety-rules.md §2 (S2, S3). Confirm against the current official edition before
production, like every rule table in the reference.

A certificate (特种作业操作证) names its **category** (作业类别, e.g. 焊接与热切割作业) and usually
its **operation item** (操作项目, e.g. 熔化焊接与热切割作业). HR sheets carry either. A permit
may require either level: a category requirement is met by any item of that category, an item
requirement only by a certificate naming that very item (a category alone does not say which
item was examined, so it does not meet an item requirement: fail safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CertCategory(StrEnum):
    """特种作业操作证 categories (原国家安监总局令第30号 annex)."""

    ELECTRICAL = "electrical"  # 1 电工作业
    WELDING = "welding"  # 2 焊接与热切割作业
    HEIGHT = "height"  # 3 高处作业
    REFRIGERATION = "refrigeration"  # 4 制冷与空调作业
    COAL_MINE = "coal_mine"  # 5 煤矿安全作业
    METAL_MINE = "metal_mine"  # 6 金属非金属矿山安全作业
    OIL_GAS = "oil_gas"  # 7 石油天然气安全作业
    METALLURGY = "metallurgy"  # 8 冶金(有色)生产安全作业
    HAZ_CHEM = "haz_chem"  # 9 危险化学品安全作业
    FIREWORKS = "fireworks"  # 10 烟花爆竹安全作业
    OTHER = "other"  # 11 其他


CERT_CATEGORY_ZH: dict[CertCategory, str] = {
    CertCategory.ELECTRICAL: "电工作业",
    CertCategory.WELDING: "焊接与热切割作业",
    CertCategory.HEIGHT: "高处作业",
    CertCategory.REFRIGERATION: "制冷与空调作业",
    CertCategory.COAL_MINE: "煤矿安全作业",
    CertCategory.METAL_MINE: "金属非金属矿山安全作业",
    CertCategory.OIL_GAS: "石油天然气安全作业",
    CertCategory.METALLURGY: "冶金（有色）生产安全作业",
    CertCategory.HAZ_CHEM: "危险化学品安全作业",
    CertCategory.FIREWORKS: "烟花爆竹安全作业",
    CertCategory.OTHER: "其他特种作业",
}

CATEGORY_NUMBER: dict[CertCategory, str] = {c: str(i) for i, c in enumerate(CertCategory, 1)}


class OperationItem(StrEnum):
    """操作项目 of the catalogue; the value is a stable wire code, never renamed."""

    HV_ELECTRICIAN = "hv_electrician"
    LV_ELECTRICIAN = "lv_electrician"
    EX_ELECTRICAL = "ex_electrical"
    FUSION_WELDING_CUTTING = "fusion_welding_cutting"
    PRESSURE_WELDING = "pressure_welding"
    BRAZING = "brazing"
    SCAFFOLDING = "scaffolding"
    HEIGHT_INSTALL_MAINTAIN = "height_install_maintain"
    REFRIG_OPERATION = "refrig_operation"
    REFRIG_INSTALL_REPAIR = "refrig_install_repair"
    COAL_ELECTRICAL = "coal_electrical"
    COAL_BLASTING = "coal_blasting"
    COAL_MONITORING = "coal_monitoring"
    COAL_GAS_INSPECTION = "coal_gas_inspection"
    COAL_SAFETY_INSPECTION = "coal_safety_inspection"
    COAL_HOIST = "coal_hoist"
    COAL_SHEARER = "coal_shearer"
    COAL_GAS_DRAINAGE = "coal_gas_drainage"
    COAL_OUTBURST = "coal_outburst"
    COAL_WATER = "coal_water"
    MINE_VENTILATION = "mine_ventilation"
    MINE_TAILINGS = "mine_tailings"
    MINE_SAFETY_INSPECTION = "mine_safety_inspection"
    MINE_HOIST = "mine_hoist"
    MINE_SUPPORT = "mine_support"
    MINE_ELECTRICAL = "mine_electrical"
    MINE_DRAINAGE = "mine_drainage"
    MINE_BLASTING = "mine_blasting"
    DRILLER = "driller"
    COAL_GAS_WORK = "coal_gas_work"
    PHOSGENE = "phosgene"
    CHLOR_ALKALI = "chlor_alkali"
    CHLORINATION = "chlorination"
    NITRATION = "nitration"
    AMMONIA_SYNTHESIS = "ammonia_synthesis"
    CRACKING = "cracking"
    FLUORINATION = "fluorination"
    HYDROGENATION = "hydrogenation"
    DIAZOTIZATION = "diazotization"
    OXIDATION = "oxidation"
    PEROXIDATION = "peroxidation"
    AMINATION = "amination"
    SULFONATION = "sulfonation"
    POLYMERIZATION = "polymerization"
    ALKYLATION = "alkylation"
    CHEM_INSTRUMENTATION = "chem_instrumentation"
    PYRO_COMPOSITION = "pyro_composition"
    BLACK_POWDER = "black_powder"
    FUSE_MAKING = "fuse_making"
    FIREWORKS_CHEMICALS = "fireworks_chemicals"
    FIREWORKS_STORAGE = "fireworks_storage"


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One item of the 特种作业目录 (special-operation catalogue): its number, names and certificate
    category."""

    number: str  # the catalogue's own numbering, e.g. "2.1"
    zh: str
    category: CertCategory


_C = CertCategory
_I = OperationItem
CATALOGUE: dict[OperationItem, CatalogueEntry] = {
    _I.HV_ELECTRICIAN: CatalogueEntry("1.1", "高压电工作业", _C.ELECTRICAL),
    _I.LV_ELECTRICIAN: CatalogueEntry("1.2", "低压电工作业", _C.ELECTRICAL),
    _I.EX_ELECTRICAL: CatalogueEntry("1.3", "防爆电气作业", _C.ELECTRICAL),
    _I.FUSION_WELDING_CUTTING: CatalogueEntry("2.1", "熔化焊接与热切割作业", _C.WELDING),
    _I.PRESSURE_WELDING: CatalogueEntry("2.2", "压力焊作业", _C.WELDING),
    _I.BRAZING: CatalogueEntry("2.3", "钎焊作业", _C.WELDING),
    _I.SCAFFOLDING: CatalogueEntry("3.1", "登高架设作业", _C.HEIGHT),
    _I.HEIGHT_INSTALL_MAINTAIN: CatalogueEntry("3.2", "高处安装、维护、拆除作业", _C.HEIGHT),
    _I.REFRIG_OPERATION: CatalogueEntry("4.1", "制冷与空调设备运行操作作业", _C.REFRIGERATION),
    _I.REFRIG_INSTALL_REPAIR: CatalogueEntry("4.2", "制冷与空调设备安装修理作业", _C.REFRIGERATION),
    _I.COAL_ELECTRICAL: CatalogueEntry("5.1", "煤矿井下电气作业", _C.COAL_MINE),
    _I.COAL_BLASTING: CatalogueEntry("5.2", "煤矿井下爆破作业", _C.COAL_MINE),
    _I.COAL_MONITORING: CatalogueEntry("5.3", "煤矿安全监测监控作业", _C.COAL_MINE),
    _I.COAL_GAS_INSPECTION: CatalogueEntry("5.4", "煤矿瓦斯检查作业", _C.COAL_MINE),
    _I.COAL_SAFETY_INSPECTION: CatalogueEntry("5.5", "煤矿安全检查作业", _C.COAL_MINE),
    _I.COAL_HOIST: CatalogueEntry("5.6", "煤矿提升机操作作业", _C.COAL_MINE),
    _I.COAL_SHEARER: CatalogueEntry("5.7", "煤矿采煤机（掘进机）操作作业", _C.COAL_MINE),
    _I.COAL_GAS_DRAINAGE: CatalogueEntry("5.8", "煤矿瓦斯抽采作业", _C.COAL_MINE),
    _I.COAL_OUTBURST: CatalogueEntry("5.9", "煤矿防突作业", _C.COAL_MINE),
    _I.COAL_WATER: CatalogueEntry("5.10", "煤矿探放水作业", _C.COAL_MINE),
    _I.MINE_VENTILATION: CatalogueEntry("6.1", "金属非金属矿井通风作业", _C.METAL_MINE),
    _I.MINE_TAILINGS: CatalogueEntry("6.2", "尾矿作业", _C.METAL_MINE),
    _I.MINE_SAFETY_INSPECTION: CatalogueEntry("6.3", "金属非金属矿山安全检查作业", _C.METAL_MINE),
    _I.MINE_HOIST: CatalogueEntry("6.4", "金属非金属矿山提升机操作作业", _C.METAL_MINE),
    _I.MINE_SUPPORT: CatalogueEntry("6.5", "金属非金属矿山支柱作业", _C.METAL_MINE),
    _I.MINE_ELECTRICAL: CatalogueEntry("6.6", "金属非金属矿山井下电气作业", _C.METAL_MINE),
    _I.MINE_DRAINAGE: CatalogueEntry("6.7", "金属非金属矿山排水作业", _C.METAL_MINE),
    _I.MINE_BLASTING: CatalogueEntry("6.8", "金属非金属矿山爆破作业", _C.METAL_MINE),
    _I.DRILLER: CatalogueEntry("7.1", "司钻作业", _C.OIL_GAS),
    _I.COAL_GAS_WORK: CatalogueEntry("8.1", "煤气作业", _C.METALLURGY),
    _I.PHOSGENE: CatalogueEntry("9.1", "光气及光气化工艺作业", _C.HAZ_CHEM),
    _I.CHLOR_ALKALI: CatalogueEntry("9.2", "氯碱电解工艺作业", _C.HAZ_CHEM),
    _I.CHLORINATION: CatalogueEntry("9.3", "氯化工艺作业", _C.HAZ_CHEM),
    _I.NITRATION: CatalogueEntry("9.4", "硝化工艺作业", _C.HAZ_CHEM),
    _I.AMMONIA_SYNTHESIS: CatalogueEntry("9.5", "合成氨工艺作业", _C.HAZ_CHEM),
    _I.CRACKING: CatalogueEntry("9.6", "裂解（裂化）工艺作业", _C.HAZ_CHEM),
    _I.FLUORINATION: CatalogueEntry("9.7", "氟化工艺作业", _C.HAZ_CHEM),
    _I.HYDROGENATION: CatalogueEntry("9.8", "加氢工艺作业", _C.HAZ_CHEM),
    _I.DIAZOTIZATION: CatalogueEntry("9.9", "重氮化工艺作业", _C.HAZ_CHEM),
    _I.OXIDATION: CatalogueEntry("9.10", "氧化工艺作业", _C.HAZ_CHEM),
    _I.PEROXIDATION: CatalogueEntry("9.11", "过氧化工艺作业", _C.HAZ_CHEM),
    _I.AMINATION: CatalogueEntry("9.12", "胺基化工艺作业", _C.HAZ_CHEM),
    _I.SULFONATION: CatalogueEntry("9.13", "磺化工艺作业", _C.HAZ_CHEM),
    _I.POLYMERIZATION: CatalogueEntry("9.14", "聚合工艺作业", _C.HAZ_CHEM),
    _I.ALKYLATION: CatalogueEntry("9.15", "烷基化工艺作业", _C.HAZ_CHEM),
    _I.CHEM_INSTRUMENTATION: CatalogueEntry("9.16", "化工自动化控制仪表作业", _C.HAZ_CHEM),
    _I.PYRO_COMPOSITION: CatalogueEntry("10.1", "烟火药制造作业", _C.FIREWORKS),
    _I.BLACK_POWDER: CatalogueEntry("10.2", "黑火药制造作业", _C.FIREWORKS),
    _I.FUSE_MAKING: CatalogueEntry("10.3", "引火线制造作业", _C.FIREWORKS),
    _I.FIREWORKS_CHEMICALS: CatalogueEntry("10.4", "烟花爆竹产品涉药作业", _C.FIREWORKS),
    _I.FIREWORKS_STORAGE: CatalogueEntry("10.5", "烟花爆竹储存作业", _C.FIREWORKS),
}


def category_of(item: OperationItem) -> CertCategory:
    """The category an operation item belongs to (熔化焊接与热切割作业 -> 焊接与热切割作业)."""
    return CATALOGUE[item].category


def _key(text: str) -> str:
    # Sheets write brackets and the enumeration comma either way, and drop the 作业 suffix.
    return (
        text.strip()
        .lower()
        .replace("（", "(")
        .replace("）", ")")
        .replace("、", ",")
        .replace("，", ",")
        .replace(" ", "")
        .replace("\u3000", "")
        .removesuffix("作业")
    )


# HR shorthand for a category, not in the catalogue (issue 13 #32: a sheet wrote 焊工 and
# 焊接作业 where 电工 already worked because 电工作业 minus 作业 is 电工). Each maps to the
# CATEGORY only, never to an operation item: a shorthand does not say which item was examined,
# so it meets a category requirement and no item requirement (fail safe, see module doc).
# Only words that name one category: 电气 (电工作业, 防爆电气作业 or 煤矿井下电气作业?),
# 高压 / 低压 (an item or a vessel?), 焊 / 焊接工艺 and the like stay refused with the list.
SHORTHAND: dict[str, CertCategory] = {
    "焊工": _C.WELDING,
    "电焊工": _C.WELDING,
    "焊接": _C.WELDING,
    "焊接与切割": _C.WELDING,
    "焊割": _C.WELDING,
    "登高": _C.HEIGHT,
    "高空": _C.HEIGHT,
    "高空作业": _C.HEIGHT,
    "制冷工": _C.REFRIGERATION,
    "制冷": _C.REFRIGERATION,
    "危化品": _C.HAZ_CHEM,
    "危险化学品": _C.HAZ_CHEM,
    "烟花爆竹": _C.FIREWORKS,
}


def _lookup() -> dict[str, CertCategory | OperationItem]:
    names: dict[str, CertCategory | OperationItem] = {}
    for cat in CertCategory:
        for text in (cat.value, CERT_CATEGORY_ZH[cat], CATEGORY_NUMBER[cat]):
            names[_key(text)] = cat
    for item, entry in CATALOGUE.items():
        for text in (item.value, entry.zh, entry.number):
            names[_key(text)] = item
    for text, cat in SHORTHAND.items():
        # setdefault: a catalogue name always wins over a shorthand
        names.setdefault(_key(text), cat)
    return names


_NAMES = _lookup()


def parse_cert_kind(text: str) -> CertCategory | OperationItem:
    """A category or an operation item from its code, catalogue number or Chinese name.

    Accepts ``welding``, ``焊接与热切割作业``, ``焊接与热切割``, ``2``, ``熔化焊接与热切割作业``,
    ``fusion_welding_cutting``, ``2.1`` and the HR shorthand of ``SHORTHAND`` (``焊工``,
    ``焊接作业``: the category only); raises ``ValueError`` for anything else.
    """
    found = _NAMES.get(_key(text))
    if found is None:
        raise ValueError(f"not a special-operation category or item: {text!r}")
    return found


def kind_label(kind: CertCategory | OperationItem, zh: bool = True) -> str:
    """``2.1 熔化焊接与热切割作业 (fusion_welding_cutting)`` or the category's line."""
    if isinstance(kind, OperationItem):
        e = CATALOGUE[kind]
        return f"{e.number} {e.zh} ({kind.value})" if zh else f"{e.number} {kind.value} ({e.zh})"
    n, name = CATEGORY_NUMBER[kind], CERT_CATEGORY_ZH[kind]
    return f"{n} {name} ({kind.value})" if zh else f"{n} {kind.value} ({name})"


def catalogue_text(zh: bool = True) -> str:
    """The whole catalogue, one category per line with its items: the list of valid values."""
    lines = []
    for cat in CertCategory:
        items = [i for i, e in CATALOGUE.items() if e.category is cat]
        lines.append(kind_label(cat, zh))
        lines.extend("    " + kind_label(i, zh) for i in items)
    return "\n".join(lines)


def satisfies(
    category: CertCategory,
    item: OperationItem | None,
    required: CertCategory | OperationItem,
) -> bool:
    """Does a certificate of ``category`` / ``item`` meet ``required`` (see module doc)?"""
    if isinstance(required, OperationItem):
        return item is required
    return category is required
