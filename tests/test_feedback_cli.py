"""`python -m bot feedback list|show|act|queue|rule|reasons|overdue|stats`."""

import pytest
from feedback_util import CONTENT, file_item, migrated

from bot.cli import main
from bot.users import add_user


@pytest.fixture
def env(sqlite_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    engine, factory = migrated(sqlite_url)
    add_user(factory, "lan.tt", "mat-khau-dai-du", "staff")
    yield factory
    engine.dispose()


def run(capsys, *args):
    code = main(["feedback", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("cmd", [[], ["list"], ["show"], ["act"], ["queue"], ["queue", "add"], ["rule", "add"]])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main(["feedback", *cmd, "--help"])
    assert e.value.code == 0 and "usage:" in capsys.readouterr().out


def test_list_show_act(env, capsys):
    code = file_item(env).code
    other = file_item(env, content=CONTENT + " Một việc khác.").code
    rc, out, _ = run(capsys, "list")
    assert rc == 0 and code in out and other in out and "Sở Tư pháp" in out
    assert "Bình" not in out and "0912" not in out  # the list carries no personal data

    rc, out, _ = run(capsys, "show", code.lower(), "--preview")
    assert rc == 0 and "Nguyễn Văn Bình" in out and "0912345678" in out and "submit" in out
    assert "publication preview" in out and "possible duplicates" in out and other in out

    assert run(capsys, "act", code, "claim", "--staff", "lan.tt")[:2] == (0, f"{code}: in_processing (version 2)\n")
    rc, _, err = run(capsys, "act", code, "claim", "--staff", "lan.tt")
    assert rc == 2 and "cannot claim an item that is in_processing" in err
    rc, _, err = run(capsys, "act", code, "answer", "--staff", "lan.tt", "--version", "1", "--note", "Đã xử lý.")
    assert rc == 2 and "reload" in err
    rc, out, _ = run(capsys, "act", code, "answer", "--staff", "lan.tt", "--note", "Đã trả kết quả ngày 20/10.")
    assert rc == 0 and "answered" in out
    rc, _, err = run(capsys, "act", code, "publish", "--staff", "lan.tt", "--content", "Ông Nguyễn Văn Bình hỏi.")
    assert rc == 2 and "personal data" in err
    assert run(capsys, "act", code, "publish", "--staff", "lan.tt")[0] == 0
    assert run(capsys, "act", code, "close", "--staff", "lan.tt")[0] == 0
    rc, out, _ = run(capsys, "list", "--state", "closed")
    assert code in out and other not in out

    rc, _, err = run(capsys, "act", other, "reject", "--staff", "lan.tt", "--reason", "nope")
    assert rc == 2 and "unknown reject reason" in err
    rc, _, err = run(capsys, "act", other, "transfer", "--staff", "lan.tt")
    assert rc == 2 and "agency is required" in err
    assert run(capsys, "act", other, "transfer", "--staff", "lan.tt", "--agency", "Sở Xây dựng")[0] == 0
    rc, out, _ = run(capsys, "show", other)
    assert "transferred_to: Sở Xây dựng" in out and "lan.tt" in out


def test_only_known_staff_may_act(env, capsys):
    code = file_item(env).code
    rc, _, err = run(capsys, "act", code, "claim", "--staff", "ghost")
    assert rc == 2 and "no staff account" in err
    rc, _, err = run(capsys, "act", "PA-ZZZZZZZZ", "claim", "--staff", "lan.tt")
    assert rc == 2 and "no feedback item" in err


def test_queues_rules_reasons_overdue_stats(env, capsys):
    assert run(capsys, "queue", "add", "Văn phòng UBND tỉnh", "--days", "5")[0] == 0
    assert run(capsys, "queue", "set", "Sở Tư pháp", "--days", "7")[0] == 0
    rc, out, _ = run(capsys, "queue", "list")
    assert "Sở Tư pháp: 7 working days (default)" in out and "Văn phòng UBND tỉnh: 5 working days" in out
    rc, _, err = run(capsys, "queue", "add", "Sở Tư pháp", "--days", "99")
    assert rc == 2 and "deadline" in err
    assert run(capsys, "rule", "add", "--queue", "Văn phòng UBND tỉnh", "--keywords", "kiểm soát TTHC, một cửa")[0] == 0
    rc, out, _ = run(capsys, "rule", "list")
    assert "keywords=kiểm soát TTHC, một cửa -> Văn phòng UBND tỉnh" in out
    assert file_item(env).queue == "Văn phòng UBND tỉnh"  # the content mentions "bộ phận một cửa"
    rc, out, _ = run(capsys, "reasons")
    assert "khieu_nai_to_cao" in out
    rc, out, _ = run(capsys, "overdue")
    assert rc == 0 and "newly overdue" in out
    rc, out, _ = run(capsys, "stats")
    assert "ratings: 0" in out
    rc, out, _ = run(capsys, "list", "--overdue")
    assert rc == 0
