"""The staff inbox (/admin/inbox): ordering, filters, text search, pagination, queue scoping, saved views, bulk
claim / assign / transfer, and the domain's `assign`. On SQLite and PostgreSQL (one app per module, so each test
works in queues of its own)."""

import uuid

import pytest
from dashboard_util import account
from feedback_util import MONDAY, audit_rows, file_item, outbox_rows, row

from bot.users import by_name, update_account
from feedback import service as fs


def new_queue(app, days: int = 5) -> tuple[str, str]:
    """A queue of its own and a procedure code that routes there: (queue name, procedure code)."""
    tag = uuid.uuid4().hex[:8]
    name = f"Phòng {tag}"
    code = f"9.{int(tag, 16) % 10**6:06d}"
    fs.add_queue(app.factory, name, days)
    fs.add_rule(app.factory, name, procedure_code=code, priority=1)
    return name, code


def file_in(app, procedure: str, now=MONDAY, **over) -> str:
    return file_item(app.factory, now=now, procedure_code=procedure, **over).code


# --- the domain's assign ---


def test_assign_sets_the_assignee_with_an_audit_entry_and_no_state_change(dash_app):
    queue, proc = new_queue(dash_app)
    code = file_in(dash_app, proc)
    worker = account(dash_app, "staff", [queue])
    before = row(dash_app.factory, code)
    version = fs.assign(dash_app.factory, code, "boss.x", worker, version=before.version)
    it = row(dash_app.factory, code)
    assert (it.state, it.assigned_to, it.version) == ("received", worker, before.version + 1)
    assert version == it.version
    last = audit_rows(dash_app.factory, code)[-1]
    assert (last.action, last.actor, last.from_state, last.to_state) == ("assign", "boss.x", "received", "received")
    assert worker in last.note
    sent = outbox_rows(dash_app.factory, code)
    assert len(sent) == 1  # the receipt only: an assignment is not the citizen's business
    entries = len(audit_rows(dash_app.factory, code))
    assert fs.assign(dash_app.factory, code, "boss.x", worker) == version  # already theirs: nothing changes
    assert len(audit_rows(dash_app.factory, code)) == entries
    assert outbox_rows(dash_app.factory, code) == sent


def test_assign_refuses_bad_assignees_stale_versions_and_finished_items(dash_app):
    queue, proc = new_queue(dash_app)
    other, _ = new_queue(dash_app)
    code = file_in(dash_app, proc)
    stranger = account(dash_app, "staff", [other])
    boss = account(dash_app, "supervisor")
    for bad in (stranger, "no-such-user", ""):
        with pytest.raises(fs.InvalidAssignee):
            fs.assign(dash_app.factory, code, "boss.x", bad)
    disabled = account(dash_app, "staff", [queue])
    update_account(dash_app.factory, by_name(dash_app.factory, disabled).id, active=False)
    with pytest.raises(fs.InvalidAssignee):
        fs.assign(dash_app.factory, code, "boss.x", disabled)
    with pytest.raises(fs.Conflict):
        fs.assign(dash_app.factory, code, "boss.x", boss, version=row(dash_app.factory, code).version + 5)
    fs.assign(dash_app.factory, code, "boss.x", boss)  # a supervisor works on every queue
    assert row(dash_app.factory, code).assigned_to == boss
    fs.transfer(dash_app.factory, code, "boss.x", "UBND huyện Đông Anh")
    with pytest.raises(fs.IllegalTransition):
        fs.assign(dash_app.factory, code, "boss.x", boss)
    assert [a.action for a in audit_rows(dash_app.factory, code)] == ["submit", "assign", "transfer"]
