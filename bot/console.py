"""The console channel: the same dialog, in a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable

from handlers.core import Incoming, Reply
from handlers.dialog import Dialog

HISTORY = 6


def render(reply: Reply) -> str:
    lines = [reply.text]
    for n, b in enumerate(reply.buttons, 1):
        lines.append(f"  [{n}] {b.label}" + (f" → {b.url}" if b.url else ""))
    return "\n".join(lines)


def chat(dialog: Dialog, read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> None:
    """Read lines until EOF or 'thoát'; a number picks a button of the last reply."""
    history: list[str] = []
    buttons: tuple = ()
    write("Trợ lý thủ tục hành chính (gõ “thoát” để kết thúc, số để chọn nút).")
    for reply in dialog.handle(Incoming("console", "console", "console", "/start")):
        write(render(reply))
    while True:
        try:
            line = read("> ")
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if line.strip().lower() in {"thoát", "thoat", "exit", "quit"}:
            write("Tạm biệt!")
            return
        pick = line.strip()
        if pick.isdigit() and 1 <= int(pick) <= len(buttons):
            msg = Incoming("console", "console", "console", payload=buttons[int(pick) - 1].payload)
        else:
            msg = Incoming("console", "console", "console", text=line)
        replies = dialog.handle(msg, history[-HISTORY:])
        if msg.text.strip():
            history.append(msg.text)
        for reply in replies:
            write(render(reply))
            buttons = reply.buttons or buttons
        sys.stdout.flush()
