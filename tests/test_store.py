import gzip
import json
from pathlib import Path

import pytest

from knowledge import store
from knowledge.kb import KnowledgeBase
from knowledge.model import Channel, Document, Fee, LegalBasis, Procedure


def proc(code="1.000001", name="Đăng ký nuôi chim bồ câu", **kw):
    base = dict(
        code=code,
        name=name,
        levels=["Cấp xã"],
        domain="Thử nghiệm",
        channels=[
            Channel(
                "Trực tiếp",
                "5 Ngày làm việc",
                "5",
                "Ngày làm việc",
                "Lệ phí : 10.000 Đồng",
                (Fee("10.000", "Đồng", "Lệ phí : 10.000 Đồng"),),
            )
        ],
        documents=[Document("Tờ khai theo mẫu", "TK01.docx", "1 bản chính")],
        legal_basis=[LegalBasis("Luật Thử nghiệm", "01/2020/QH14")],
        steps=["Bước 1: Nộp hồ sơ", "Bước 2: Nhận kết quả"],
    )
    base.update(kw)
    return Procedure(**base)


def write_jsonl(path, procs):
    path.write_text("".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in procs), encoding="utf-8")
    return path


def test_import_then_reimport_changes_nothing(empty_app, tmp_path):
    f = write_jsonl(tmp_path / "kb.jsonl", [proc(), proc("1.000002", "Cấp giấy phép nuôi cá")])
    assert str(store.import_file(empty_app.factory, f, "tester")) == "2 created, 0 updated, 0 unchanged"
    with empty_app.factory() as s:
        rev = store.current_revision(s)
    assert str(store.import_file(empty_app.factory, f, "tester")) == "0 created, 0 updated, 2 unchanged"
    with empty_app.factory() as s:
        assert store.current_revision(s) == rev
        assert len(store.history(s, "1.000001")) == 1


def test_changed_record_is_updated_and_the_change_kept(empty_app, tmp_path):
    store.import_file(empty_app.factory, write_jsonl(tmp_path / "a.jsonl", [proc()]), "alice")
    store.import_file(empty_app.factory, write_jsonl(tmp_path / "b.jsonl", [proc(conditions="Có chuồng")]), "bob")
    with empty_app.factory() as s:
        changes = store.history(s, "1.000001")
        assert store.get(s, "1.000001").conditions == "Có chuồng"
    assert [(c["action"], c["actor"]) for c in changes] == [("create", "alice"), ("update", "bob")]
    assert changes[1]["fields"] == ["conditions"]
    assert changes[1]["before"] == {"conditions": None}


def test_bad_record_fails_whole_import_and_names_record_and_field(empty_app, tmp_path):
    f = tmp_path / "bad.jsonl"
    good = json.dumps(proc().to_dict(), ensure_ascii=False)
    bad = json.dumps({"code": "1.000009", "name": "   "}, ensure_ascii=False)
    f.write_text(good + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(store.ImportFailed) as e:
        store.import_file(empty_app.factory, f, "t")
    assert "line 2" in str(e.value) and "1.000009" in str(e.value) and "name" in str(e.value)
    with empty_app.factory() as s:
        assert store.count(s) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json\n", "malformed JSON"),
        (b"[1, 2]\n", "expected a JSON object"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b'{"code": "abc", "name": "x"}\n', "field code"),
        (b'{"code": "1.1", "name": "x", "colour": "red"}\n', "unknown field"),
    ],
)
def test_malformed_files_are_refused_clearly(empty_app, tmp_path, content, message):
    f = tmp_path / "x.jsonl"
    f.write_bytes(content)
    with pytest.raises(store.ImportFailed, match=message):
        store.import_file(empty_app.factory, f, "t")


def test_duplicate_code_in_one_file_is_refused(empty_app, tmp_path):
    f = write_jsonl(tmp_path / "dup.jsonl", [proc(), proc()])
    with pytest.raises(store.ImportFailed, match="appears twice"):
        store.import_file(empty_app.factory, f, "t")


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".xlsx", ".csv"])
def test_export_import_round_trip(empty_app, tmp_path, suffix):
    procs = [proc(), proc("1.000002", 'Cấp phép, "đặc biệt"; nhiều dòng\nthứ hai', aliases=["nuôi cá"])]
    store.save_procedures(empty_app.factory, procs, "t")
    out = tmp_path / f"kb{suffix}"
    with empty_app.factory() as s:
        assert store.export_file(s, out) == 2
    assert [p.to_dict() for p in store.read_file(out)] == [p.to_dict() for p in procs]


def test_gzip_jsonl_is_read(empty_app, tmp_path):
    f = tmp_path / "kb.jsonl.gz"
    f.write_bytes(gzip.compress(json.dumps(proc().to_dict(), ensure_ascii=False).encode()))
    assert store.import_file(empty_app.factory, f, "t").created == 1


def test_alias_updates_search_without_restart(empty_app, monkeypatch):
    monkeypatch.setattr("knowledge.kb.REVISION_CHECK_INTERVAL", 0.0)
    store.save_procedures(empty_app.factory, [proc(), proc("1.000002", "Cấp giấy phép nuôi cá")], "t")
    kb = KnowledgeBase(empty_app.factory)
    assert kb.search("thả diều").decision == "none"
    assert store.add_text(empty_app.factory, "1.000001", "aliases", "thả diều chim", "admin")
    assert not store.add_text(empty_app.factory, "1.000001", "aliases", "thả diều chim", "admin")
    r = kb.search("thả diều")
    assert r.codes[0] == "1.000001"


def test_bundled_kb_has_every_portal_record():
    with gzip.open(store.BUNDLED_KB, "rt", encoding="utf-8") as f:
        assert sum(1 for _ in f) == 2642


FIXTURE = Path(__file__).parent / "fixtures" / "portal" / "records.jsonl"


def test_portal_format_imports_and_reports_bad_records(empty_app, tmp_path):
    n = sum(1 for line in FIXTURE.open(encoding="utf-8") if line.strip())
    assert store.import_file(empty_app.factory, FIXTURE, "portal").created == n
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"ma_thu_tuc": "1.000178", "ten_thu_tuc": "X", "cach_thuc_thuc_hien": ["list"]}) + "\n")
    with pytest.raises(store.ImportFailed) as e:
        store.import_file(empty_app.factory, bad, "portal")
    assert "1.000178" in str(e.value) and "cach_thuc_thuc_hien" in str(e.value)
    with empty_app.factory() as s:
        assert store.count(s) == n  # the failed import changed nothing
