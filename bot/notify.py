"""Notifications: the outbox worker with one sender per channel this process can reach.

The feedback workflow writes every message to the citizen (and to the staff group) into the outbox in
the same transaction as the change it announces; this module delivers them. A process delivers only
the channels it has a sender for (`python -m bot run` Telegram, the terminal chat the console), so a
message never waits behind a channel that cannot be served here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.orm import sessionmaker

from bot.console import render
from feedback import outbox, worker
from handlers.core import Button, Reply

log = logging.getLogger(__name__)

ChannelSender = outbox.Sender  # one channel's: async send(message)
CONSOLE_HEAD = "— Thông báo phản ánh, kiến nghị —"


class Senders:
    """The outbox's sender for several channels, dispatching on each message's channel."""

    def __init__(self, by_channel: dict[str, ChannelSender]):
        self.by_channel = dict(by_channel)

    @property
    def channels(self) -> set[str]:
        return set(self.by_channel)

    async def __call__(self, msg: outbox.Outgoing) -> None:
        send = self.by_channel.get(msg.channel)
        if send is None:  # not delivered by this process (filtered out), kept for another
            raise RuntimeError(f"no sender for channel {msg.channel}")
        await send(msg)


def console_sender(write: Callable[[str], None], pressable: list[Button] | None = None) -> ChannelSender:
    """Print a notification in the terminal, its buttons numbered after those already in `pressable` (the
    terminal chat clears it before a delivery pass, and lets a typed number press them)."""

    async def send(msg: outbox.Outgoing) -> None:
        shown = [Button(label, payload) for label, payload in msg.buttons]
        first = len(pressable) + 1 if pressable is not None else 1
        write(f"{CONSOLE_HEAD}\n{render(Reply(msg.text, tuple(shown)), first)}")
        if pressable is not None:
            pressable.extend(shown)

    return send


async def deliver_now(factory: sessionmaker, senders: Senders) -> outbox.DeliveryReport:
    """One delivery pass for the channels of `senders` (the terminal chat calls it after each message)."""
    return await outbox.deliver(factory, senders, channels=senders.channels)


def start_worker(
    factory: sessionmaker,
    senders: Senders,
    stop: asyncio.Event,
    staff_chat: str | None,
    wake: asyncio.Event | None = None,
    interval: float = 5.0,
    upkeep: Callable[[], object] | None = None,
) -> asyncio.Task:
    log.info("outbox worker started channels=%s", ",".join(sorted(senders.channels)) or "-")
    return asyncio.create_task(
        worker.run(
            factory,
            senders,
            stop,
            interval=interval,
            staff_chat=staff_chat,
            channels=senders.channels,
            wake=wake,
            upkeep=upkeep,
        )
    )
