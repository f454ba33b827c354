"""Damaged records (flagged at import, kept out of search and answers, kept in exports) and `kb check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import db
from bot.app import build
from bot.settings import load_settings
from knowledge import store
from knowledge.integrity import check, damage_flags
from knowledge.kb import KnowledgeBase
from knowledge.model import Channel, Document, Flag, Procedure

PAGES = Path(__file__).parent / "fixtures" / "portal" / "pages.jsonl"
# The crawl's records whose page shows another procedure's code (../shared/data/dichvucong/README.md).
DAMAGED = {
    "1.002544", "1.014208", "2.001428", "2.001709", "3.000224", "3.000226", "3.000243", "3.000244", "3.000246",
    "3.000272", "3.000274", "3.000283", "3.000284", "3.000285", "3.000286", "3.000331", "3.000332",
}  # fmt: skip
COMMUNITY = "Hỗ trợ phát triển sản xuất cộng đồng."


def fields(flags: dict[str, list[Flag]]) -> dict[str, list[str]]:
    return {code: [f.field for f in fs] for code, fs in flags.items()}


# ------------------------------------------------------------------------------------------ rules


def test_a_page_showing_another_code_is_flagged():
    flags = damage_flags([("3.000224", COMMUNITY, "1.014023"), ("1.000001", "Khai sinh", "1.000001")])
    assert fields(flags) == {"3.000224": ["page_code"]}
    assert flags["3.000224"][0].reason == "the portal page shows procedure 1.014023, not 3.000224"


def test_a_repeated_name_keeps_only_the_pages_true_owner():
    records = [("3.000224", COMMUNITY, "1.014023"), ("1.002544", COMMUNITY, "1.014023")]
    assert fields(damage_flags(records)) == {"3.000224": ["page_code", "name"], "1.002544": ["page_code", "name"]}
    # With the owner in the KB (even without page text of its own), the owner is kept.
    flags = damage_flags([*records, ("1.014023", COMMUNITY, "")])
    assert "1.014023" not in flags
    assert flags["3.000224"][1].reason == "the same name as 1.002544, 1.014023; kept: 1.014023, whose page is its own"


def test_two_pages_each_showing_their_own_code_are_two_procedures():
    name = "Cấp lại giấy phép xuất nhập cảnh cho người không quốc tịch cư trú tại Việt Nam"
    assert damage_flags([("1.002359", name, "1.002359"), ("2.000281", name, "2.000281")]) == {}


def test_a_repeated_name_without_any_page_is_reported_not_flagged():
    records = [("9.000001", "Thủ tục  trùng", ""), ("9.000002", "Thủ tục trùng", ""), ("9.000003", "Khác", "")]
    assert damage_flags(records) == {}
    problems = check([Procedure(code, name, page_code=page) for code, name, page in records])
    assert [(x.code, x.field, x.damaged) for x in problems] == [
        ("9.000001", "name", False),
        ("9.000002", "name", False),
    ]
    assert problems[0].message == "the same name as 9.000002; no page shows which is whose"  # whitespace aside


# ------------------------------------------------------------------------------------------- check


def test_check_lists_each_problem_with_its_field():
    procs = [
        Procedure(
            code="1.000001",
            name="Thủ tục thử",
            channels=[
                Channel("Trực tuyến", "1", "1", "", "Miễn phí(2.400.000 Đồng (Cấp lại do mất))"),
                Channel("Trực tiếp", "5 Ngày", "5", "Ngày", "Miễn phí(Theo Thông tư số 47/2019/TT-BTC)"),
                Channel("Dịch vụ bưu chính", "5 Ngày", "5", "Ngày", "Miễn phí(Mức thu do HĐND tỉnh quyết định)"),
            ],
            documents=[Document("Bước 2. Cơ quan BHXH tiếp nhận hồ sơ")],
            page_gaps=["time"],
        ),
        Procedure(code="1.000002", name="Thủ tục ổn", channels=[Channel("Trực tiếp", "5 Ngày", fee="Miễn phí(Không)")]),
        Procedure(
            code="3.000224", name=COMMUNITY, flags=[Flag("page_code", "the portal page shows procedure 1.014023")]
        ),
    ]
    problems = check(procs)
    assert [(x.code, x.field) for x in problems] == [
        ("1.000001", "documents"),
        ("1.000001", "fee (Dịch vụ bưu chính)"),
        ("1.000001", "fee (Trực tiếp)"),
        ("1.000001", "fee (Trực tuyến)"),
        ("1.000001", "time"),
        ("1.000001", "time (Trực tuyến)"),
        ("3.000224", "page_code"),
    ]
    text = {x.field: x.message for x in problems}
    assert text["fee (Trực tuyến)"].startswith("says “Miễn phí” but states an amount: (2.400.000 Đồng")
    assert "cites a fee regulation" in text["fee (Trực tiếp)"]
    assert "says the province sets it" in text["fee (Dịch vụ bưu chính)"]
    assert text["time (Trực tuyến)"] == "“1” without a unit (ngày, giờ …)"
    assert text["documents"].startswith("holds step text: Bước 2.")
    assert "chưa có thông tin" in text["time"]
    assert [x.damaged for x in problems] == [False] * 6 + [True]
    assert [x.field for x in check(procs, "3.000224")] == ["page_code"]
    assert check(procs, "1.000002") == []


def test_check_notes_same_names_kept_as_two_procedures():
    name = "Cấp lại giấy phép"
    procs = [Procedure("1.002359", name, page_code="1.002359"), Procedure("2.000281", name, page_code="2.000281")]
    problems = check(procs)
    assert [(x.code, x.field, x.damaged) for x in problems] == [
        ("1.002359", "name", False),
        ("2.000281", "name", False),
    ]
    assert problems[0].message == "the same name as 2.000281; kept, each page shows its own code"


# ------------------------------------------------------------------------------- import and search


def test_import_flags_damaged_records_and_keeps_them_out_of_search(empty_app, monkeypatch):
    monkeypatch.setattr("knowledge.kb.REVISION_CHECK_INTERVAL", 0.0)
    report = store.import_file(empty_app.factory, PAGES, "portal")
    assert (report.created, report.flagged, dict(report.flag_fields)) == (7, 2, {"page_code": 2, "name": 2})
    assert str(report) == (
        "7 created, 0 updated, 0 unchanged; 2 flagged and kept out of search and answers (2 page shows another "
        "procedure's code, 2 name repeats another record's; see kb check)"
    )
    with empty_app.factory() as s:
        stored = {p.code: p for p in store.load_all(s)}
    assert {code for code, p in stored.items() if p.flags} == {"3.000224", "1.002544"}
    assert stored["3.000224"].page_code == "1.014023"

    kb = KnowledgeBase(empty_app.factory)
    assert len(kb) == 5
    assert kb.get("3.000224") is None and kb.get("1.002359") is not None and kb.get("2.000281") is not None
    assert not {"3.000224", "1.002544"} & set(kb.search(COMMUNITY).codes)
    assert all(not p.flags for d, _ in kb.domains() for p in kb.browse(d))


@pytest.mark.parametrize("suffix", [".jsonl", ".xlsx", ".csv"])
def test_export_keeps_flags_and_the_projects_format_is_checked_again(empty_app, tmp_path, suffix):
    store.import_file(empty_app.factory, PAGES, "portal")
    out = tmp_path / f"kb{suffix}"
    with empty_app.factory() as s:
        assert store.export_file(s, out) == 7
        before = {p.code: p for p in store.load_all(s)}
    again = {p.code: p for p in store.read_file(out)}
    assert again == before  # flags, page codes and everything else survive the round trip

    # Imported elsewhere from a file whose flags were dropped, the flags are found again from page codes and names.
    edited = tmp_path / "edited.jsonl"
    edited.write_text(
        "".join(json.dumps(dict(p.to_dict(), flags=[]), ensure_ascii=False) + "\n" for p in again.values())
    )
    assert all(not p.flags for p in store.read_file(edited))
    other = build(load_settings(database_url=f"sqlite:///{tmp_path / 'other.db'}"), prepare=False)
    db.upgrade(other.engine)
    assert store.import_file(other.factory, edited, "t").flagged == 2
    other.engine.dispose()


def test_a_later_record_can_flag_an_earlier_one(empty_app):
    store.save_procedures(empty_app.factory, [Procedure("9.000002", "Thủ tục trùng")], "alice")
    owner = Procedure("9.000001", "Thủ tục trùng", page_code="9.000001")
    report = store.save_procedures(empty_app.factory, [owner], "bob")
    assert (report.created, report.updated, report.flagged) == (1, 1, 1)
    with empty_app.factory() as s:
        assert [c["action"] for c in store.history(s, "9.000002")] == ["create", "update"]
        assert store.history(s, "9.000002")[1]["fields"] == ["flags"]
        assert (
            store.get(s, "9.000002").flags[0].reason
            == "the same name as 9.000001; kept: 9.000001, whose page is its own"
        )
    # Renaming it clears the flag.
    store.save_procedures(empty_app.factory, [Procedure("9.000002", "Thủ tục khác")], "bob")
    with empty_app.factory() as s:
        assert all(not p.flags for p in store.load_all(s))


# ------------------------------------------------------------------------------- the bundled KB


def test_bundled_kb_flags_exactly_the_damaged_records(app):
    with app.factory() as s:
        procs = store.load_all(s)
    assert len(procs) == 2642
    assert {p.code for p in procs if p.flags} == DAMAGED
    assert {p.code for p in procs if p.page_code != p.code} == DAMAGED
    assert len(app.kb) == 2642 - len(DAMAGED)
    hits = app.kb.search(COMMUNITY, k=10).codes
    assert not set(hits) & DAMAGED


def test_bundled_kb_answers_every_aspect_its_pages_hold(app):
    """The whole-crawl check (bench/page_gaps.py), stored at import: no aspect the page holds is missing."""
    with app.factory() as s:
        gaps = {p.code: p.page_gaps for p in store.load_all(s) if p.page_gaps}
    assert gaps == {}
