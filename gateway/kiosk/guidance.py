"""What a worker should do next after a refusal, and the screen's own words (zh-CN, English).

The reason itself comes from ``edge.reasons``; this adds the next step, because "气体分析已超时"
tells a worker what is wrong but not whom to call. A code without its own step gets the safety
officer, who can act on any refusal.
"""

from __future__ import annotations

from edge.reasons import Lang, ReasonCode

_SAFETY_OFFICER = ("请联系安全员", "See the safety officer")

_CERT_REVIEW = ("请联系安全员复审证件", "Have the safety officer review your certificate")
_RENEW_CERT = ("请尽快办理证件复审", "Get your certificate reviewed")
_NEW_PERMIT = ("请联系作业负责人重新办理作业票", "Ask the work leader for a new permit")
_LEAVE_NOW = ("请立即撤离，远离作业区域", "Leave now; keep away from the zone")
_GAS_TEST_FIRST = ("请先进行气体分析", "A gas test is needed first")
_CHECK_SENSOR = ("请联系技术员检查气体传感器", "Ask the technician to check the gas sensor")
_TECHNICIAN = ("请联系技术员", "See the technician")

_NEXT: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.UNKNOWN_BADGE: ("请联系安全员登记工卡", "Ask the safety officer to register it"),
    ReasonCode.FACE_MISMATCH: ("请本人刷卡，正对摄像头", "Badge in yourself, facing the camera"),
    ReasonCode.FACE_NOT_FOUND: ("请正对摄像头后重新刷卡", "Face the camera and tap again"),
    ReasonCode.FACE_QUALITY: ("请摘下遮挡物后重新刷卡", "Uncover your face and tap again"),
    ReasonCode.MULTIPLE_FACES: ("请其他人离开画面后重新刷卡", "One person in view, then tap again"),
    ReasonCode.LIVENESS_FAILED: ("请眨眼后重新刷卡", "Blink, then tap again"),
    ReasonCode.NOT_ENROLLED: ("请联系技术员录入人脸", "Ask the technician to enrol your face"),
    ReasonCode.IDENTITY_UNAVAILABLE: ("请联系技术员检查摄像头", "Ask the technician to check it"),
    ReasonCode.WORKER_LOCKED: ("请联系安全员解锁", "Ask the safety officer to unlock your badge"),
    ReasonCode.PROXY_ATTEMPT: _SAFETY_OFFICER,
    ReasonCode.CERT_MISSING: _CERT_REVIEW,
    ReasonCode.CERT_EXPIRED: _CERT_REVIEW,
    ReasonCode.CERT_NOT_YET_VALID: _CERT_REVIEW,
    ReasonCode.CERT_WRONG_CATEGORY: _CERT_REVIEW,
    ReasonCode.CERT_REVIEW_OVERDUE: _RENEW_CERT,
    ReasonCode.CERT_EXPIRING_30D: _RENEW_CERT,
    ReasonCode.CERT_EXPIRING_15D: _RENEW_CERT,
    ReasonCode.NO_PERMIT: ("请联系作业负责人办理作业票", "Ask the work leader for a permit"),
    ReasonCode.NOT_ON_PERMIT: ("请联系作业负责人将您加入作业票", "Ask the work leader to add you"),
    ReasonCode.PERMIT_NOT_STARTED: ("请等待作业负责人开始作业", "Wait for the leader to start"),
    ReasonCode.PERMIT_NOT_YET_VALID: ("请在作业票生效后再进入", "Enter once the permit is valid"),
    ReasonCode.PERMIT_SUSPENDED: ("请在区域外等候，听从安全员指挥", "Wait outside for the officer"),
    ReasonCode.PERMIT_EXPIRED: _NEW_PERMIT,
    ReasonCode.PERMIT_CLOSED: _NEW_PERMIT,
    ReasonCode.GUARDIAN_ABSENT: ("请等待监护人到场", "Wait for the guardian to arrive"),
    ReasonCode.GAS_UNSAFE: _LEAVE_NOW,
    ReasonCode.SENSOR_OVER_RANGE: _LEAVE_NOW,
    ReasonCode.GAS_TEST_STALE: _GAS_TEST_FIRST,
    ReasonCode.GAS_TEST_MISSING: _GAS_TEST_FIRST,
    ReasonCode.GAS_TEST_FAILED: ("请通风后重新进行气体分析", "Ventilate, then test the air again"),
    ReasonCode.GAS_TEST_IN_FUTURE: ("请核对检测仪时间后重测", "Fix the detector clock; retest"),
    ReasonCode.GAS_ALARM_LATCHED: ("请等待安全员确认报警", "Wait for the officer to acknowledge"),
    ReasonCode.SENSOR_STALE: _CHECK_SENSOR,
    ReasonCode.SENSOR_FAULT: _CHECK_SENSOR,
    ReasonCode.SENSOR_NEGATIVE: _CHECK_SENSOR,
    ReasonCode.SENSOR_WARMING_UP: ("传感器预热中，请稍候", "Sensor warming up; wait a moment"),
    ReasonCode.NO_AIR_DATA: ("请联系技术员检查气体监测", "Ask the technician to check monitoring"),
    ReasonCode.MONITOR_INCOMPLETE: ("请联系技术员加装探测器", "Ask for the missing detector"),
    ReasonCode.OUTSIDE_GEOFENCE: ("请联系技术员检查终端位置", "Ask the technician to check it"),
    ReasonCode.NO_GPS_FIX: ("请联系技术员检查定位", "Ask the technician to check GPS"),
    ReasonCode.CLOCK_UNTRUSTED: ("请联系技术员同步时间", "Ask the technician to sync the clock"),
    ReasonCode.NOT_INSIDE: ("如需进入请重新刷卡", "Tap again to enter"),
    ReasonCode.STORE_CORRUPT: _TECHNICIAN,
    ReasonCode.INTERNAL_ERROR: _TECHNICIAN,
}


# The work cycle's codes (actions confirmed at the terminal), by name: their text lives with
# the work cycle in edge/reasons.py, which may land after this table.
_NEXT_BY_NAME: dict[str, tuple[str, str]] = {
    "ROLE_NOT_ALLOWED": ("请由作业负责人刷卡确认", "The permit's leader must confirm"),
    "PERMIT_AMBIGUOUS": ("请先在屏幕上选择作业票", "Choose the permit on the screen"),
    "PEOPLE_INSIDE": ("请全部人员刷卡离开后再操作", "Everyone must badge out first"),
    "EVERYONE_OUT_NOT_CONFIRMED": ("请监护人确认全员撤离", "Guardian: confirm all out"),
    "GAS_TEST_INCOMPLETE": ("请补测缺少的气体", "Test the missing gases"),
    "MONITORING_RESUMING": ("传感器预热中，请稍候", "Sensors warming up; please wait"),
    "TERMINAL_BUSY": ("请等待当前操作完成", "Wait for the current action to end"),
    "TERMINAL_UNAVAILABLE": _TECHNICIAN,
    "NO_TAP": ("请重新选择操作并刷卡", "Choose the action again, then tap"),
}


def next_step(code: ReasonCode | str, lang: Lang = Lang.ZH) -> str:
    """The next step for a worker refused with ``code`` (unknown codes: the safety officer)."""
    try:
        zh, en = _NEXT[ReasonCode(str(code))]
    except (ValueError, KeyError):
        zh, en = _NEXT_BY_NAME.get(str(code), _SAFETY_OFFICER)
    return zh if lang is Lang.ZH else en


SPOKEN: dict[str, tuple[str, str]] = {
    "admit": ("准许进入", "Entry allowed"),
    "exit": ("已登记离开", "Exit recorded"),
    "deny": ("禁止进入，请看屏幕", "Entry refused; see the screen"),
    "alarm": ("气体报警，请立即撤离", "Gas alarm; leave the zone now"),
    "look": ("请看摄像头", "Look at the camera"),
}
"""The prompts spoken at the terminal (Mandarin is spoken; English is shown)."""

KIND_NAMES: dict[str, tuple[str, str]] = {
    "DHZY": ("动火作业", "Hot work"),
    "YXKJ": ("受限空间作业", "Confined space"),
    "MBCD": ("盲板抽堵作业", "Blind plate"),
    "GCZY": ("高处作业", "Work at height"),
    "DZZY": ("吊装作业", "Lifting"),
    "LSYD": ("临时用电作业", "Temporary power"),
    "DTZY": ("动土作业", "Excavation"),
    "DLZY": ("断路作业", "Road break"),
}
LEVEL_NAMES: dict[str, tuple[str, str]] = {
    "hot_special": ("特级", "special"),
    "hot_1": ("一级", "level 1"),
    "hot_2": ("二级", "level 2"),
    "height_1": ("I级", "class I"),
    "height_2": ("II级", "class II"),
    "height_3": ("III级", "class III"),
    "height_4": ("IV级", "class IV"),
    "lift_1": ("一级", "level 1"),
    "lift_2": ("二级", "level 2"),
    "lift_3": ("三级", "level 3"),
}
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "approved": ("已批准，未开始", "approved, not started"),
    "active": ("作业中", "active"),
    "suspended": ("已中止", "suspended"),
    "completed": ("已完工", "completed"),
    "closed": ("已关闭", "closed"),
    "expired": ("已过期", "expired"),
    "revoked": ("已撤销", "revoked"),
    "cancelled": ("已取消", "cancelled"),
}
ROLE_NAMES: dict[str, tuple[str, str]] = {
    "operator": ("作业人员", "operator"),
    "guardian": ("监护人", "guardian"),
}


def words(table: dict[str, tuple[str, str]], key: str | None) -> dict[str, str]:
    """``{"code", "zh", "en"}`` for a display name (unknown keys show their code)."""
    code = key or ""
    zh, en = table.get(code, (code, code))
    return {"code": code, "zh": zh, "en": en}
