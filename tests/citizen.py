"""A scripted citizen talking to the dialog core through the stored conversation (no channel)."""

from __future__ import annotations

import itertools
import uuid

from handlers.conversation import Conversations
from handlers.core import Attachment, Button, Incoming, Reply

_ids = itertools.count(1)


class Citizen:
    def __init__(self, conversations: Conversations, channel: str = "test", user: str = ""):
        self.conversations = conversations
        self.channel = channel
        self.user = user or uuid.uuid4().hex[:12]
        self.replies: list[Reply] = []

    def send(self, msg: Incoming) -> list[Reply]:
        self.replies = self.conversations.handle_sync(msg)
        return self.replies

    def incoming(self, text: str = "", payload: str = "", attachments=(), message_id: str = "") -> Incoming:
        return Incoming(
            self.channel,
            self.user,
            self.user,
            text=text,
            payload=payload,
            message_id=message_id or f"t{next(_ids)}",
            attachments=tuple(attachments),
        )

    def say(self, text: str) -> Reply:
        [reply] = self.send(self.incoming(text))
        return reply

    def tap(self, payload: str) -> Reply:
        [reply] = self.send(self.incoming(payload=payload))
        return reply

    def photo(self, caption: str = "") -> Reply:
        [reply] = self.send(self.incoming(caption, attachments=[Attachment("photo", "file-1")]))
        return reply

    def button(self, label: str, reply: Reply | None = None) -> Button:
        reply = reply or self.replies[-1]
        found = [b for b in reply.buttons if b.label == label or b.label.startswith(label)]
        assert found, f"no button {label!r} in {[b.label for b in reply.buttons]}"
        return found[0]

    def press(self, label: str, reply: Reply | None = None) -> Reply:
        return self.tap(self.button(label, reply).payload)

    @property
    def state(self):
        return self.conversations.state(self.channel, self.user)


def labels(reply: Reply) -> list[str]:
    return [b.label for b in reply.buttons]
