"""The console channel: the same dialog and stored conversation, so quitting and coming back carries on."""

import uuid

from bot.console import chat
from handlers import texts as d


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
    assert d.WELCOME in out and "Mã thủ tục: 1.000656" in out and "[1] Các bước" in out
    # a new session (as after a restart) continues: the follow-up knows the procedure
    out = run(app, ["thế còn lệ phí?", "1"], user)
    assert out.count("Mã thủ tục: 1.000656") == 2 and "Phí, lệ phí:" in out and "Hồ sơ cần nộp:" in out


def test_console_link_buttons_print_the_address(app):
    user = f"console-{uuid.uuid4().hex[:8]}"
    out = run(app, ["đăng ký khai tử", "7"], user)
    assert "[7] Xem trên Cổng Dịch vụ công → https://" in out
    url = app.kb.get("1.000656").url
    assert url in out.splitlines()  # pressing it prints the address alone
