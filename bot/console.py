"""The console channel: the same dialog and the same stored conversation, in a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable

from handlers.conversation import Conversations
from handlers.core import Button, Incoming, Reply

CHANNEL = "console"
USER = "local"  # the one citizen of the terminal chat
EXIT = {"thoát", "thoat", "exit", "quit"}


def render(reply: Reply, first: int = 1) -> str:
    lines = [reply.text]
    for n, b in enumerate(reply.buttons, first):
        lines.append(f"  [{n}] {b.label}" + (f" → {b.url}" if b.url else ""))
    return "\n".join(lines)


def chat(
    conversations: Conversations,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
    user: str = USER,
    deliver: Callable[[], list[Button] | None] | None = None,
    echo: bool = False,
) -> None:
    """Read lines until EOF or 'thoát'; a number presses a button of the last replies.

    The conversation is stored like any other channel's (keyed by `user`): quitting and starting again
    carries on. `deliver` runs after each message: it prints the notifications the outbox holds for the
    console (the acknowledgement of a feedback, with its tracking code, comes that way) and returns the
    buttons it printed, which a number then presses. With `echo` (input piped in, not typed), each line
    read is written after the prompt, so the output reads as a transcript.
    """
    buttons: list[Button] = []

    def send(msg: Incoming) -> None:
        nonlocal buttons
        shown: list[Button] = []
        for reply in conversations.handle_sync(msg):
            write(render(reply, len(shown) + 1))
            shown.extend(reply.buttons)
        if shown:
            buttons = shown
        if deliver is not None:
            shown = deliver()
            if shown:
                buttons = shown
        sys.stdout.flush()

    write("Trợ lý thủ tục hành chính (gõ “thoát” để kết thúc, gõ số để bấm nút).")
    send(Incoming(CHANNEL, user, user, "/start"))
    while True:
        try:
            line = read("> ")
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if echo:
            write(line)
        if line.strip().lower() in EXIT:
            write("Tạm biệt!")
            return
        pick = line.strip()
        if pick.isdigit() and 1 <= int(pick) <= len(buttons):
            button = buttons[int(pick) - 1]
            if button.url:
                write(button.url)
                continue
            send(Incoming(CHANNEL, user, user, payload=button.payload))
        else:
            send(Incoming(CHANNEL, user, user, text=line))
