"""The console channel: the same dialog and stored conversation, so quitting and coming back carries on."""

import os
import subprocess
import sys
import uuid

from feedback_util import file_item, row
from sqlalchemy import create_engine, select

from bot.console import chat
from feedback import service as fs
from feedback.outbox import utcnow
from handlers import pakn
from handlers import texts as d
from handlers.store import conversations


def run(app, lines, user):
    out: list[str] = []
    feed = iter(lines)

    def read(prompt):
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    chat(app.conversations, read, out.append, user=user)
    return "\n".join(out)


def test_console_asks_presses_by_number_and_continues_after_a_restart(app):
    user = f"console-{uuid.uuid4().hex[:8]}"
    out = run(app, ["đăng ký khai tử", "thoát"], user)
    assert d.WELCOME in out and "Mã thủ tục: 1.000656" in out and "[1] Xem đủ" in out and "[3] Các bước" in out
    # a new session (as after a restart) continues: the follow-up knows the procedure
    out = run(app, ["thế còn lệ phí?", "1"], user)
    assert out.count("Mã thủ tục: 1.000656") == 2 and "Phí, lệ phí:" in out and "Hồ sơ cần nộp:" in out


def test_console_link_buttons_print_the_address(app):
    user = f"console-{uuid.uuid4().hex[:8]}"
    out = run(app, ["đăng ký khai tử", "6"], user)
    assert "[6] Xem trên Cổng Dịch vụ công → https://" in out
    url = app.kb.get("1.000656").url
    assert url in out.splitlines()  # pressing it prints the address alone


def test_piped_input_is_echoed_after_the_prompt(app):
    user = f"console-{uuid.uuid4().hex[:8]}"
    out: list[str] = []
    lines = iter(["xin chào", "thoát"])
    chat(app.conversations, lambda prompt: next(lines), out.append, user=user, echo=True)
    assert out[out.index("xin chào") + 1].startswith(d.WELCOME)  # the line read, then its answer
    assert "xin chào" not in run(app, ["xin chào", "thoát"], user).splitlines()  # typed in a terminal: no echo


def test_notification_buttons_are_numbered_and_pressed_by_number(app):
    from bot.cli import _console_delivery
    from bot.notify import CONSOLE_HEAD

    user = f"console-{uuid.uuid4().hex[:8]}"
    code = file_item(app.factory, citizen=fs.Citizen("console", user, user), now=utcnow()).code
    fs.claim(app.factory, code, "lan.tt")
    fs.answer(app.factory, code, "lan.tt", "Phường đã trả kết quả.")
    out: list[str] = []
    lines = iter(["4", "thoát"])
    chat(app.conversations, lambda prompt: next(lines), out.append, user=user,
         deliver=_console_delivery(app, write=out.append))  # fmt: skip
    [answered] = [t for t in out if t.startswith(CONSOLE_HEAD) and "đã có trả lời" in t]
    assert answered.endswith("\n".join(f"  [{k}] {k}" for k in range(1, 6)))
    assert pakn.RATED.format(code=code, stars=4) in out
    assert row(app.factory, code).rating == 4


def cli_chat(args: list[str], stdin: str, base) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{base / 'app.db'}", "DATA_DIR": str(base / "data")}
    return subprocess.run([sys.executable, "-m", "bot", "chat", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=base, timeout=300)  # fmt: skip


def test_cli_chat_named_or_new_conversations_with_piped_input(tmp_path):
    named = cli_chat(["--user", "ann"], "đăng ký khai tử\nthoát\n", tmp_path)
    assert named.returncode == 0, named.stderr
    assert "> đăng ký khai tử\n" in named.stdout and "Tạm biệt!" in named.stdout  # reads as a transcript
    for _ in range(2):
        assert cli_chat(["--new"], "thoát\n", tmp_path).returncode == 0
    again = cli_chat(["--user", "ann"], "thoát\n", tmp_path)
    assert again.returncode == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.connect() as conn:
        users = conn.execute(select(conversations.c.user_id).where(conversations.c.channel == "console")).scalars()
        users = sorted(users)
    engine.dispose()
    assert len(users) == 3 and "ann" in users and all(u.startswith("console-") for u in users if u != "ann")
    assert cli_chat(["--user", "ann", "--new"], "", tmp_path).returncode == 2  # one or the other
    assert cli_chat(["--user", "a b"], "", tmp_path).returncode == 2
