import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [
    [],
    ["run"],
    ["demo"],
    ["chat"],
    ["db", "upgrade"],
    ["kb", "import"],
    ["kb", "export"],
    ["kb", "search"],
    ["kb", "stats"],
    ["kb", "check"],
    ["kb", "history"],
    ["kb", "alias"],
    ["kb", "question"],
    ["user", "add"],
]


def run(args, env_extra=None, stdin="", cwd=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help(cmd):
    r = run([*cmd, "--help"])
    assert r.returncode == 0 and "usage:" in r.stdout


@pytest.fixture(scope="module")
def dbenv(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    return {"DATABASE_URL": f"sqlite:///{d / 'app.db'}"}


def test_batch_search_contract(dbenv):
    lines = [
        {"id": "a", "q": "đăng ký khai sinh cần giấy tờ gì", "history": []},
        {"id": "b", "q": "thế còn lệ phí?", "history": ["đăng ký khai sinh"]},
        {"id": "c", "q": "", "history": []},
    ]
    stdin = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines) + "{broken\n"
    r = run(["kb", "search", "--jsonl", "-"], dbenv, stdin)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c", None]
    assert out[0]["decision"] in {"answer", "clarify", "none"} and len(out[0]["codes"]) <= 5
    assert out[0]["aspects"] == ["documents"] and isinstance(out[0]["ms"], float)
    assert out[1]["codes"][0] == out[0]["codes"][0]
    assert out[2]["decision"] == "none"
    assert "malformed" in out[3]["error"]


def test_stats_and_single_search(dbenv):
    r = run(["kb", "stats"], dbenv)
    assert r.returncode == 0 and "procedures: 2625" in r.stdout  # the 17 damaged records are not served
    assert "flagged, kept out of search and answers: 17" in r.stdout
    r = run(["kb", "search", "chứng", "thực", "di", "chúc"], dbenv)
    assert r.returncode == 0 and "2.001019" in r.stdout


def test_check_lists_problems_one_line_each(dbenv):
    r = run(["kb", "check"], dbenv)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    damaged = [x for x in lines if "[kept out]" in x]
    assert len({x.split()[0] for x in damaged}) == 17
    assert any(x.startswith("3.000224") and " page_code " in x and "1.014023" in x for x in damaged)
    assert any(x.split()[:3] == ["3.000333", "fee", "(Trực"] and "“Miễn phí”" in x for x in lines)
    assert "kept out of search and answers: 17" in r.stderr
    r = run(["kb", "check", "--code", "3.000224", "--json"], dbenv)
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.returncode == 0 and {(x["field"], x["damaged"]) for x in rows} == {("page_code", True), ("name", True)}
    r = run(["kb", "check", "--code", "9.999999"], dbenv)
    assert r.returncode == 2 and "no procedure" in r.stderr


def test_import_reports_flagged_records(tmp_path):
    pages = Path(__file__).parent / "fixtures" / "portal" / "pages.jsonl"
    r = run(["kb", "import", str(pages)], {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert r.returncode == 0, r.stderr
    assert "7 created" in r.stdout and "2 flagged and kept out of search and answers" in r.stdout


def test_alias_then_history(dbenv):
    r = run(["kb", "alias", "add", "1.001193", "làm giấy khai sinh cho bé"], dbenv)
    assert r.returncode == 0 and "added" in r.stdout
    r = run(["kb", "history", "1.001193"], dbenv)
    assert r.returncode == 0 and "update" in r.stdout and "aliases" in r.stdout and "bundle" in r.stdout
    assert run(["kb", "history", "9.999999"], dbenv).returncode == 2


def test_chat_answers_hello(dbenv):
    r = run(["chat"], dbenv, stdin="xin chào\nthoát\n")
    assert r.returncode == 0 and "Xin chào" in r.stdout and "Hỏi thủ tục" in r.stdout


def test_user_add(dbenv):
    r = run(["user", "add", "can.bo1", "--role", "admin"], dbenv, stdin="mat-khau-dai-du\n")
    assert r.returncode == 0, r.stderr
    r = run(["user", "add", "can.bo1"], dbenv, stdin="mat-khau-dai-du\n")
    assert r.returncode == 2 and "exists already" in r.stderr
    r = run(["user", "add", "can.bo2"], dbenv, stdin="short\n")
    assert r.returncode == 2 and "password" in r.stderr


def test_import_missing_file_and_bad_setting_are_one_line_errors(dbenv):
    r = run(["kb", "import", "/nonexistent.jsonl"], dbenv)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    r = run(["kb", "stats"], {"PORT": "x"})
    assert r.returncode == 2 and "PORT" in r.stderr and "Traceback" not in r.stderr
    r = run(["db", "upgrade"], {"DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/x"})
    assert r.returncode == 2 and "cannot reach the database" in r.stderr and "Traceback" not in r.stderr
