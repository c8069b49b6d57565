"""Stable reason codes and the words shown to people for them (zh-CN first, English available).

A code is part of the wire contract with central and of the audit trail: never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class Lang(StrEnum):
    """The languages workers and technicians read (zh-CN first, English available)."""

    ZH = "zh-CN"
    EN = "en"


class ReasonCode(StrEnum):
    """Why something was refused or flagged; part of the contract (never rename one)."""

    # identity and lockout
    UNKNOWN_BADGE = "UNKNOWN_BADGE"
    FACE_MISMATCH = "FACE_MISMATCH"
    FACE_NOT_FOUND = "FACE_NOT_FOUND"
    FACE_QUALITY = "FACE_QUALITY"
    MULTIPLE_FACES = "MULTIPLE_FACES"
    LIVENESS_FAILED = "LIVENESS_FAILED"
    NOT_ENROLLED = "NOT_ENROLLED"
    IDENTITY_UNAVAILABLE = "IDENTITY_UNAVAILABLE"
    WORKER_LOCKED = "WORKER_LOCKED"
    PROXY_ATTEMPT = "PROXY_ATTEMPT"
    # enrolment images
    IMAGE_UNREADABLE = "IMAGE_UNREADABLE"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    FACE_ENROLLED_ELSEWHERE = "FACE_ENROLLED_ELSEWHERE"
    # certificates
    CERT_MISSING = "CERT_MISSING"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_NOT_YET_VALID = "CERT_NOT_YET_VALID"
    CERT_REVIEW_OVERDUE = "CERT_REVIEW_OVERDUE"
    CERT_WRONG_CATEGORY = "CERT_WRONG_CATEGORY"
    CERT_EXPIRING_30D = "CERT_EXPIRING_30D"
    CERT_EXPIRING_15D = "CERT_EXPIRING_15D"
    # permits
    NO_PERMIT = "NO_PERMIT"
    NOT_ON_PERMIT = "NOT_ON_PERMIT"
    PERMIT_NOT_STARTED = "PERMIT_NOT_STARTED"
    PERMIT_NOT_YET_VALID = "PERMIT_NOT_YET_VALID"
    PERMIT_SUSPENDED = "PERMIT_SUSPENDED"
    PERMIT_EXPIRED = "PERMIT_EXPIRED"
    PERMIT_CLOSED = "PERMIT_CLOSED"
    GUARDIAN_ABSENT = "GUARDIAN_ABSENT"
    WORKER_INSIDE = "WORKER_INSIDE"
    MONITOR_INCOMPLETE = "MONITOR_INCOMPLETE"
    LINKED_PERMIT_NOT_ACTIVE = "LINKED_PERMIT_NOT_ACTIVE"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    NOT_AUTHORISED = "NOT_AUTHORISED"
    # air
    GAS_UNSAFE = "GAS_UNSAFE"
    GAS_TEST_STALE = "GAS_TEST_STALE"
    GAS_TEST_IN_FUTURE = "GAS_TEST_IN_FUTURE"
    GAS_TEST_MISSING = "GAS_TEST_MISSING"
    GAS_TEST_FAILED = "GAS_TEST_FAILED"
    GAS_ALARM_LATCHED = "GAS_ALARM_LATCHED"
    GAS_TEST_BEFORE_ALARM = "GAS_TEST_BEFORE_ALARM"
    SENSOR_STALE = "SENSOR_STALE"
    SENSOR_FAULT = "SENSOR_FAULT"
    SENSOR_WARMING_UP = "SENSOR_WARMING_UP"
    SENSOR_OVER_RANGE = "SENSOR_OVER_RANGE"
    SENSOR_NEGATIVE = "SENSOR_NEGATIVE"
    NO_AIR_DATA = "NO_AIR_DATA"
    UNPERMITTED_WORK_SUSPECTED = "UNPERMITTED_WORK_SUSPECTED"
    # position and time
    OUTSIDE_GEOFENCE = "OUTSIDE_GEOFENCE"
    NO_GPS_FIX = "NO_GPS_FIX"
    TERMINAL_MOVED = "TERMINAL_MOVED"
    CLOCK_UNTRUSTED = "CLOCK_UNTRUSTED"
    # presence
    NOT_INSIDE = "NOT_INSIDE"
    ALREADY_INSIDE = "ALREADY_INSIDE"
    # the work cycle (start, break, resume, finish, everyone-out, close; gas tests)
    ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"
    PERMIT_AMBIGUOUS = "PERMIT_AMBIGUOUS"
    PEOPLE_INSIDE = "PEOPLE_INSIDE"
    EVERYONE_OUT_NOT_CONFIRMED = "EVERYONE_OUT_NOT_CONFIRMED"
    GAS_TEST_INCOMPLETE = "GAS_TEST_INCOMPLETE"
    MONITORING_RESUMING = "MONITORING_RESUMING"
    TERMINAL_BUSY = "TERMINAL_BUSY"
    TERMINAL_UNAVAILABLE = "TERMINAL_UNAVAILABLE"
    NO_TAP = "NO_TAP"
    REQUEST_INVALID = "REQUEST_INVALID"
    # system
    STORE_CORRUPT = "STORE_CORRUPT"
    STORE_UNWRITABLE = "STORE_UNWRITABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


_TEXT: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.UNKNOWN_BADGE: (
        "工卡未登记，请联系安全员",
        "Badge not registered; see the safety officer",
    ),
    ReasonCode.FACE_MISMATCH: ("人脸与工卡不符，禁止代签", "Face does not match the badge owner"),
    ReasonCode.FACE_NOT_FOUND: ("未检测到人脸，请正对摄像头", "No face found; look at the camera"),
    ReasonCode.FACE_QUALITY: (
        "人脸图像质量不足，请调整位置",
        "Face image too poor; adjust position",
    ),
    ReasonCode.MULTIPLE_FACES: ("画面中有多人，请单人刷卡", "Several faces in view; one at a time"),
    ReasonCode.LIVENESS_FAILED: ("活体检测未通过，请眨眼", "Liveness check failed; blink please"),
    ReasonCode.NOT_ENROLLED: ("未录入人脸，请联系技术员", "No face enrolled; see the technician"),
    ReasonCode.IDENTITY_UNAVAILABLE: ("人脸核验不可用", "Face verification unavailable"),
    ReasonCode.WORKER_LOCKED: ("工卡已锁定，请联系安全员", "Badge locked; see the safety officer"),
    ReasonCode.PROXY_ATTEMPT: ("疑似代签，已通知安全员", "Suspected proxy badge-in reported"),
    ReasonCode.IMAGE_UNREADABLE: ("照片无法读取", "The photo cannot be read"),
    ReasonCode.IMAGE_TOO_LARGE: (
        "照片像素过大，无法在有限内存中读取，请缩小或存为JPEG",
        "Photo too large to decode in bounded memory; shrink it or save as JPEG",
    ),
    ReasonCode.FACE_ENROLLED_ELSEWHERE: (
        "此人脸已录入在其他工人名下",
        "This face is already enrolled under another worker",
    ),
    ReasonCode.CERT_MISSING: ("缺少本岗位所需特种作业操作证", "Required certificate missing"),
    ReasonCode.CERT_EXPIRED: ("特种作业操作证已过期", "Special-operation certificate expired"),
    ReasonCode.CERT_NOT_YET_VALID: ("特种作业操作证尚未生效", "Certificate not yet valid"),
    ReasonCode.CERT_REVIEW_OVERDUE: ("特种作业操作证逾期未复审", "Certificate review overdue"),
    ReasonCode.CERT_WRONG_CATEGORY: ("操作证类别与岗位不符", "Certificate of the wrong category"),
    ReasonCode.CERT_EXPIRING_30D: ("操作证将在30天内到期", "Certificate expires within 30 days"),
    ReasonCode.CERT_EXPIRING_15D: ("操作证将在15天内到期", "Certificate expires within 15 days"),
    ReasonCode.NO_PERMIT: ("本区域无有效作业票", "No valid permit for this zone"),
    ReasonCode.NOT_ON_PERMIT: ("作业票上没有您的名字", "You are not named on the permit"),
    ReasonCode.PERMIT_NOT_STARTED: ("作业票尚未开始作业", "Permit not started yet"),
    ReasonCode.PERMIT_NOT_YET_VALID: ("作业票尚未到生效时间", "Permit not yet valid"),
    ReasonCode.PERMIT_SUSPENDED: ("作业票已中止，禁止进入", "Permit suspended; no entry"),
    ReasonCode.PERMIT_EXPIRED: ("作业票已过期", "Permit expired"),
    ReasonCode.PERMIT_CLOSED: ("作业票已关闭", "Permit closed"),
    ReasonCode.GUARDIAN_ABSENT: ("监护人不在场，禁止进入", "Guardian not present; no entry"),
    ReasonCode.LINKED_PERMIT_NOT_ACTIVE: (
        "关联作业票未在作业中",
        "The permit this one serves is not active",
    ),
    ReasonCode.MONITOR_INCOMPLETE: (
        "固定气体监测缺少本作业必须连续监测的气体（可燃气／氧气）",
        "The fixed gas monitors lack a gas this work must watch (combustible / O2)",
    ),
    ReasonCode.WORKER_INSIDE: (
        "该人员仍在作业区域内，须先刷卡离开",
        "The worker is still inside the zone; they must badge out first",
    ),
    ReasonCode.ILLEGAL_TRANSITION: ("作业票状态不允许此操作", "Permit state does not allow this"),
    ReasonCode.NOT_AUTHORISED: ("无权执行此操作", "Not authorised"),
    ReasonCode.GAS_UNSAFE: ("气体超标，禁止进入", "Dangerous air; no entry"),
    ReasonCode.GAS_TEST_STALE: ("气体分析已超时，请重新检测", "Gas test too old; test again"),
    ReasonCode.GAS_TEST_IN_FUTURE: (
        "气体分析时间晚于本机时间，请核对检测仪时钟",
        "Gas test dated in the future; check the instrument's clock",
    ),
    ReasonCode.GAS_TEST_MISSING: ("未做气体分析", "No gas test recorded"),
    ReasonCode.GAS_TEST_FAILED: ("气体分析不合格", "Gas test failed"),
    ReasonCode.GAS_ALARM_LATCHED: ("气体报警未解除确认", "Gas alarm not yet acknowledged"),
    ReasonCode.GAS_TEST_BEFORE_ALARM: (
        "气体分析早于最近一次报警，请重新检测",
        "Gas test predates the latest alarm; test again",
    ),
    ReasonCode.SENSOR_STALE: ("气体传感器无数据", "Gas sensor silent"),
    ReasonCode.SENSOR_FAULT: ("气体传感器故障", "Gas sensor fault"),
    ReasonCode.SENSOR_WARMING_UP: ("气体传感器预热中", "Gas sensor warming up"),
    ReasonCode.SENSOR_OVER_RANGE: ("气体读数超量程", "Gas reading over range"),
    ReasonCode.SENSOR_NEGATIVE: (
        "气体读数为负，传感器异常",
        "Negative gas reading; sensor suspect",
    ),
    ReasonCode.NO_AIR_DATA: ("无气体监测数据", "No air monitoring data"),
    ReasonCode.UNPERMITTED_WORK_SUSPECTED: ("疑似无票作业", "Unpermitted work suspected"),
    ReasonCode.OUTSIDE_GEOFENCE: ("终端不在作业区域内", "Terminal is outside the zone"),
    ReasonCode.NO_GPS_FIX: ("无有效定位", "No valid GPS fix"),
    ReasonCode.TERMINAL_MOVED: ("终端位置异常移动", "Terminal has moved"),
    ReasonCode.CLOCK_UNTRUSTED: ("系统时间未同步，无法核验", "Clock not synchronised"),
    ReasonCode.NOT_INSIDE: ("您未在区域内登记", "You are not checked in"),
    ReasonCode.ALREADY_INSIDE: ("您已在区域内", "You are already inside"),
    ReasonCode.ROLE_NOT_ALLOWED: (
        "您在作业票上的角色不能执行此操作",
        "Your role on the permit does not allow this action",
    ),
    ReasonCode.PERMIT_AMBIGUOUS: (
        "有多张作业票，请在屏幕上选择",
        "Several permits apply; choose one on the screen",
    ),
    ReasonCode.PEOPLE_INSIDE: ("区域内仍有人员", "People are still inside"),
    ReasonCode.EVERYONE_OUT_NOT_CONFIRMED: (
        "监护人尚未确认人员全部撤离",
        "The guardian has not confirmed everyone is out",
    ),
    ReasonCode.GAS_TEST_INCOMPLETE: (
        "气体分析缺少本作业要求的检测项目",
        "Gas test lacks a gas this work requires",
    ),
    ReasonCode.MONITORING_RESUMING: (
        "重启后气体监测恢复中：传感器预热中，请稍候",
        "Gas monitoring resuming after a restart: sensors warming up, please wait",
    ),
    ReasonCode.TERMINAL_BUSY: ("终端正在等待另一项操作", "The terminal awaits another action"),
    ReasonCode.TERMINAL_UNAVAILABLE: ("终端读卡器不可用", "Terminal badge reader unavailable"),
    ReasonCode.NO_TAP: ("未在规定时间内刷卡", "No badge was tapped in time"),
    ReasonCode.REQUEST_INVALID: ("请求内容无效", "Invalid request"),
    ReasonCode.STORE_CORRUPT: (
        "本地数据异常，请联系技术员",
        "Local data corrupt; see the technician",
    ),
    ReasonCode.STORE_UNWRITABLE: (
        "网关无法记录进出（存储已满或故障），暂停入场，请联系技术员",
        "The gateway cannot record entries (storage full or failing); entry refused, "
        "see the technician",
    ),
    ReasonCode.INTERNAL_ERROR: ("系统错误，请联系技术员", "Internal error; see the technician"),
}

# Every code has words; a missing one is a programming error caught at import.
_missing = set(ReasonCode) - set(_TEXT)
if _missing:  # pragma: no cover
    raise RuntimeError(f"reason codes without text: {sorted(_missing)}")


def text(code: ReasonCode, lang: Lang = Lang.ZH) -> str:
    """The message for ``code`` in ``lang`` (``TEXTS``)."""
    zh, en = _TEXT[code]
    return zh if lang is Lang.ZH else en


ALLOWED_IN = ("准许进入", "Entry allowed")
ALLOWED_OUT = ("已登记离开", "Exit recorded")
