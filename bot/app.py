"""The composition root: builds every part of the app from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from bot import db, inbox, metrics
from bot.settings import Settings
from feedback import guard, outbox
from handlers.conversation import Conversations
from handlers.dialog import Dialog
from handlers.pakn import Desk, sweep_uploads
from knowledge import imports, store
from knowledge.kb import KnowledgeBase

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: Engine
    factory: sessionmaker
    kb: KnowledgeBase
    dialog: Dialog
    conversations: Conversations

    def upkeep(self) -> None:
        """Housekeeping the background worker runs now and then: files of abandoned drafts, old lookup
        attempts, knowledge-base imports never applied, processed updates, delivered messages about no item, a
        channel's log of chats (the web chat's) older than the conversation's memory."""
        if self.dialog.feedback is not None:
            sweep_uploads(self.dialog.feedback.desk, self.engine, self.conversations.context_ttl)
        guard.prune(self.factory)
        imports.sweep(self.factory, self.settings.data_dir)
        inbox.prune(self.factory)
        outbox.prune(self.factory)
        before = inbox.utcnow() - self.conversations.context_ttl
        for transcript in self.conversations.transcripts.values():
            with self.engine.begin() as conn:
                transcript.prune(conn, before)


def build(settings: Settings, prepare: bool = True) -> App:
    """Connect, and with `prepare` upgrade the schema and load the bundled KB on first start."""
    engine = db.make_engine(settings.db_url)
    factory = db.session_factory(engine)
    if prepare:
        db.upgrade(engine)
        report = store.ensure_bundled(factory)
        if report:
            log.info("bundled knowledge base loaded: %s", report)
    kb = KnowledgeBase(factory)
    kb.timed = metrics.SEARCH.observe
    dialog = Dialog(kb, Desk(factory, settings.data_dir, settings.staff_chat))
    return App(settings, engine, factory, kb, dialog, Conversations(engine, dialog))
