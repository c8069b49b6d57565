"""Importing the HR sheet again (next month's, with renewed certificates) keeps what the sheet
does not carry: the cards bound since (``--badges`` or ``bind-badges``) and the site roles; and a
``站点角色`` column names the safety officers and analysts without central."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.models import SiteRole
from gateway.exitcodes import ExitCode
from tests.provision.conftest import ProvisionFn
from tests.provision.test_roster_import import day, registry_workers, run_import, write_csv

HR_HEADER = ["工号", "姓名", "特种作业操作证号", "作业类别", "发证机关", "有效期起", "有效期至"]
AUTHORITY = "上海市应急管理局"


def hr_rows(renewed: bool = False) -> list[list[str]]:
    """A1's certificate runs out in 5 days, or was renewed (new number, six years)."""
    a1 = ("DG-2026-0201", day(-5), day(2180)) if renewed else ("DG-2020-0101", day(-2180), day(5))
    return [
        ["A1", "甲", a1[0], "电工作业", AUTHORITY, a1[1], a1[2]],
        ["A2", "乙", "GC-2021-0102", "高处作业", AUTHORITY, day(-300), day(1500)],
        ["A3", "丙", "", "", "", "", ""],
    ]


def test_a_reimport_without_cards_keeps_the_bound_cards_and_takes_the_renewed_certificate(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    cards = write_csv(
        tmp_path / "cards.csv", [["A1", "000101"], ["A2", "000102"]], ["工号", "卡号"]
    )
    rc, first = run_import(
        p, write_csv(tmp_path / "m1.csv", hr_rows(), HR_HEADER), "--badges", str(cards),
        capsys=capsys,
    )  # fmt: skip
    assert rc == ExitCode.OK, first
    # Next month: the same sheet without a card column, A1's certificate renewed.
    rc, again = run_import(
        p, write_csv(tmp_path / "m2.csv", hr_rows(renewed=True), HR_HEADER), capsys=capsys
    )
    assert rc == ExitCode.OK, again
    assert again["kept_badges"] == ["A1", "A2"]
    assert again["workers_without_badge"] == ["A3"]
    workers = registry_workers(p)
    assert workers["A1"].badge_ids == ("000101",) and workers["A2"].badge_ids == ("000102",)
    assert [c.number for c in workers["A1"].certificates] == ["DG-2026-0201"]
    # A card in the sheet is the HR office's word: it replaces the bound one.
    rows = [[*r[:2], "C-9" if r[0] == "A2" else "", *r[2:]] for r in hr_rows(renewed=True)]
    header = [*HR_HEADER[:2], "卡号", *HR_HEADER[2:]]
    rc, third = run_import(p, write_csv(tmp_path / "m3.csv", rows, header), capsys=capsys)
    assert rc == ExitCode.OK, third
    assert third["kept_badges"] == ["A1"]
    assert registry_workers(p)["A2"].badge_ids == ("C-9",)


def test_a_bound_card_given_to_another_worker_in_the_sheet_is_refused(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    cards = write_csv(tmp_path / "cards.csv", [["A1", "000101"]], ["工号", "卡号"])
    rc, _ = run_import(
        p, write_csv(tmp_path / "m1.csv", hr_rows(), HR_HEADER), "--badges", str(cards),
        capsys=capsys,
    )  # fmt: skip
    assert rc == ExitCode.OK
    # A1 keeps 000101 (no card in the sheet for them), so the same card on A2 is a clash.
    rows = [[*r[:2], "000101" if r[0] == "A2" else "", *r[2:]] for r in hr_rows()]
    header = [*HR_HEADER[:2], "卡号", *HR_HEADER[2:]]
    rc, report = run_import(p, write_csv(tmp_path / "m2.csv", rows, header), capsys=capsys)
    assert rc == ExitCode.FAILED
    assert [(x["code"], x["worker_id"]) for x in report["bad_rows"]] == [("DUPLICATE_BADGE", "A2")]
    assert registry_workers(p)["A1"].badge_ids == ("000101",)


def test_site_roles_column_sets_them_and_a_sheet_without_it_keeps_them(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    header = [*HR_HEADER, "站点角色"]
    roles = {"A1": "安全员", "A2": "气体分析人、安全员", "A3": ""}
    rows = [[*r, roles[r[0]]] for r in hr_rows()]
    rc, report = run_import(p, write_csv(tmp_path / "roles.csv", rows, header), capsys=capsys)
    assert rc == ExitCode.OK, report
    workers = registry_workers(p)
    assert workers["A1"].site_roles == (SiteRole.SAFETY_OFFICER,)
    assert set(workers["A2"].site_roles) == {SiteRole.SAFETY_OFFICER, SiteRole.ANALYST}
    assert workers["A3"].site_roles == ()
    # The HR sheet next month has no such column: the roles stay.
    rc, again = run_import(p, write_csv(tmp_path / "hr.csv", hr_rows(), HR_HEADER), capsys=capsys)
    assert rc == ExitCode.OK and again["kept_site_roles"] == ["A1", "A2"]
    assert registry_workers(p)["A1"].site_roles == (SiteRole.SAFETY_OFFICER,)
    # With the column, an empty cell takes the role away (the officer left the site).
    roles["A1"] = ""
    rows = [[*r, roles[r[0]]] for r in hr_rows()]
    rc, third = run_import(p, write_csv(tmp_path / "r2.csv", rows, header), capsys=capsys)
    assert rc == ExitCode.OK and third["kept_site_roles"] == []
    assert registry_workers(p)["A1"].site_roles == ()


def test_an_unknown_site_role_is_refused_with_the_words_that_work(
    provision: ProvisionFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = provision()
    rows = [[*r, "焊工" if r[0] == "A2" else ""] for r in hr_rows()]
    path = write_csv(tmp_path / "bad.csv", rows, [*HR_HEADER, "站点角色"])
    rc, report = run_import(p, path, "--lang", "zh-CN", capsys=capsys)
    assert rc == ExitCode.FAILED
    (problem,) = report["bad_rows"]
    assert (problem["code"], problem["worker_id"], problem["row"]) == ("INVALID", "A2", 3)
    assert "焊工" in problem["message_zh"] and "安全员" in problem["message_zh"]
    assert "safety_officer" in problem["message"]
    assert registry_workers(p) == {}
