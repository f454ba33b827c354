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
    acted_on: str = ""  # the channel's id of the message whose button was pressed (a reply may replace it)

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


def reply_json(reply: Reply, acted_on: str = "") -> dict:
    """What the outbox keeps of a reply besides its text; `acted_on` is the message a `replace` reply edits."""
    return {
        "buttons": [[b.label, b.payload, b.url, b.group] for b in reply.buttons],
        "links": list(reply.links),
        "edit": acted_on if reply.replace else "",
    }


def stored_reply(text: str, stored: dict | None, pairs: list[tuple[str, str]] = ()) -> tuple[Reply, str]:
    """A reply rebuilt from the outbox (`reply_json`, or a notification's (label, payload) pairs), and the id of
    the message it replaces ("" for none)."""
    if not stored:
        return Reply(text, tuple(Button(label, payload, group="notice") for label, payload in pairs)), ""
    buttons = tuple(
        Button(str(b[0]), str(b[1]), str(b[2]), str(b[3])) for b in stored.get("buttons", []) if len(b) == 4
    )
    edit = str(stored.get("edit") or "")
    return Reply(text, buttons, tuple(str(u) for u in stored.get("links", [])), replace=bool(edit)), edit


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
