"""The values every channel speaks: one `Incoming` message in, `Reply` values out.

Nothing here imports a platform library; channel adapters turn their updates into `Incoming` and
render `Reply` (text, buttons, links) their own way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.text import safe_text

# Attachment kinds a form may accept; anything else (stickers, voice, video …) is never accepted.
FILE_KINDS = frozenset({"photo", "document"})


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # photo | document | sticker | voice | video | audio | location | contact | other
    ref: str = ""  # the channel's file id, for a form that keeps it
    name: str = ""
    size: int = 0
    data: bytes = field(default=b"", repr=False, compare=False)  # the file, fetched by a channel for a form

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", safe_text(self.name))


@dataclass(frozen=True, slots=True)
class Incoming:
    channel: str
    user_id: str
    chat_id: str
    text: str = ""
    payload: str = ""
    message_id: str = ""  # unique per channel (e.g. the update id); the same id is handled once
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        """The one boundary every channel passes: what a user typed is cleaned here, once."""
        object.__setattr__(self, "text", safe_text(self.text))
        object.__setattr__(self, "payload", safe_text(self.payload))


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str = ""
    url: str = ""
    group: str = ""  # buttons of one group share rows; a new group starts a new row


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    links: tuple[str, ...] = field(default=())
    replace: bool = False  # a page of the same list: channels that can edit the pressed message do so


def layout(buttons: tuple[Button, ...] | list[Button]) -> list[list[Button]]:
    """Rows for a keyboard: each group on its own rows, short labels three or two to a row."""
    rows: list[list[Button]] = []
    groups: list[list[Button]] = []
    for b in buttons:
        if groups and groups[-1][0].group == b.group and b.group:
            groups[-1].append(b)
        else:
            groups.append([b])
    for g in groups:
        longest = max(len(b.label) for b in g)
        per_row = 3 if longest <= 14 else 2 if longest <= 24 else 1
        rows.extend(g[i : i + per_row] for i in range(0, len(g), per_row))
    return rows
