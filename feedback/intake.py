"""Intake: the citizen's consent and the submission of a PAKN with its files, in one transaction."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import sessionmaker

from feedback import codes, texts, uploads, workdays
from feedback.model import Citizen, ConsentRequired, Draft, Receipt
from feedback.outbox import enqueue, utcnow
from feedback.records import add_audit, staff_chat_id
from feedback.reports import find_duplicates
from feedback.routing import route
from feedback.tables import (
    consents,
    items,
)

log = logging.getLogger(__name__)


def record_consent(factory: sessionmaker, citizen: Citizen, now: datetime | None = None) -> int:
    """Record an explicit "Đồng ý" to `texts.CONSENT_TEXT` (its version and the time); returns its id."""
    with factory.begin() as s:
        return s.execute(
            insert(consents).values(
                channel=citizen.channel,
                channel_user_id=str(citizen.user_id),
                purpose=texts.CONSENT_PURPOSE,
                text=texts.CONSENT_TEXT,
                text_version=texts.CONSENT_VERSION,
                given_at=now or utcnow(),
            )
        ).inserted_primary_key[0]


def submit(
    factory: sessionmaker,
    draft: Draft,
    citizen: Citizen,
    consent_id: int,
    data_dir=None,
    now: datetime | None = None,
    staff_chat: str | None = None,
) -> Receipt:
    """File a PAKN: the record, its attachments, the first audit entry, the acknowledgement to the citizen and
    the staff-group announcement in one transaction. InvalidField or CitizenError when refused."""
    d = draft.cleaned()
    if d.attachments and data_dir is None:
        raise ValueError("data_dir is needed to check attachments")
    now = now or utcnow()
    staff_chat = staff_chat_id(staff_chat)
    with factory.begin() as s:
        consent = s.execute(select(consents).where(consents.c.id == consent_id)).first()
        if (
            consent is None
            or consent.channel != citizen.channel
            or consent.channel_user_id != str(citizen.user_id)
            or consent.purpose != texts.CONSENT_PURPOSE
            or consent.withdrawn_at is not None
        ):
            raise ConsentRequired()
        queue = route(s, d.field, d.procedure_code, d.content)
        deadline = workdays.add_working_days(workdays.local_date(now), queue.deadline_days)
        code = codes.new_code(lambda c: bool(s.scalar(select(exists().where(items.c.code == c)))))
        item_id = s.execute(
            insert(items).values(
                code=code,
                kind=d.kind,
                content=d.content,
                procedure_code=d.procedure_code,
                field=d.field,
                agency=d.agency,
                sender_name=d.name,
                sender_address=d.address,
                sender_phone=d.phone,
                sender_email=d.email,
                channel=citizen.channel,
                channel_user_id=str(citizen.user_id),
                chat_id=str(citizen.chat_id),
                consent_id=consent_id,
                queue_id=queue.id,
                state="received",
                version=1,
                deadline=deadline,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        if d.attachments:
            uploads.attach(s, data_dir, citizen, d.attachments, item_id, now)
        add_audit(s, item_id, now, "citizen", "submit", None, "received")
        enqueue(
            s,
            channel=citizen.channel,
            chat_id=str(citizen.chat_id),
            text=texts.acknowledgement(code, d.kind, queue.name, deadline),
            key=f"{code}:ack",
            now=now,
            item_id=item_id,
        )
        item = s.execute(select(items).where(items.c.id == item_id)).one()
        dups = tuple(c for c, _ in find_duplicates(s, item))
        if staff_chat:
            enqueue(
                s,
                channel="telegram",
                chat_id=staff_chat,
                text=texts.staff_new(code, queue.name, deadline, list(dups)),
                key=f"{code}:staff-new",
                now=now,
                item_id=item_id,
            )
    log.info("feedback %s received: item %d, queue %d, %d attachments", code, item_id, queue.id, len(d.attachments))
    return Receipt(code, deadline, queue.name, dups)
