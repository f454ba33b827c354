"""The values every channel speaks: one `Incoming` message in, `Reply` values out.

Nothing here imports a platform library; channel adapters turn their updates into `Incoming` and
render `Reply` (text, buttons, links) their own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Incoming:
    channel: str
    user_id: str
    chat_id: str
    text: str = ""
    payload: str = ""
    message_id: str = ""
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    links: tuple[str, ...] = field(default=())
