"""`python -m bot feedback …`: the staff workflow from the terminal, before the dashboard exists."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC

from sqlalchemy.orm import sessionmaker

from feedback import records, service, texts, workdays
from feedback.service import FeedbackError
from feedback.validate import InvalidField

ACTIONS = service.STAFF_ACTIONS


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    fb = sub.add_parser("feedback", help="feedback (PAKN) queue: list, show, act, queues, routing rules")
    cmds = fb.add_subparsers(dest="fb_cmd", required=True, metavar="COMMAND")

    ls = cmds.add_parser("list", help="items by deadline (no personal data)")
    ls.add_argument("--state", choices=list(texts.STATE_LABELS), help="only items in this state")
    ls.add_argument("--overdue", action="store_true", help="only open items past their deadline")
    ls.add_argument("--queue", help="only items of this queue")

    show = cmds.add_parser("show", help="one item: fields, thread, attachments, audit log, duplicate candidates")
    show.add_argument("code")
    show.add_argument("--preview", action="store_true", help="also print the redacted texts publish would use")

    act = cmds.add_parser("act", help="a staff action on one item")
    act.add_argument("code")
    act.add_argument("action", choices=ACTIONS)
    act.add_argument("--staff", required=True, help="the acting staff member's username (see `user add`)")
    act.add_argument("--note", help="ask_info: the question; answer: the answer; otherwise an optional note")
    act.add_argument("--agency", help="transfer: the competent agency")
    act.add_argument("--reason", help="reject: a reason code (see `feedback reasons`)")
    act.add_argument("--original", help="mark_duplicate: the original item's code")
    act.add_argument("--content", help="publish: the reviewed question text (default: the automatic redaction)")
    act.add_argument("--answer", help="publish: the reviewed answer text (default: the automatic redaction)")
    act.add_argument("--version", type=int, help="fail if the item changed since this version was shown")

    cmds.add_parser("reasons", help="the reject reasons")
    cmds.add_parser("overdue", help="flag overdue items and announce them in the staff group")
    cmds.add_parser("stats", help="satisfaction ratings")

    q = cmds.add_parser("queue", help="queues and their deadlines").add_subparsers(dest="queue_cmd", required=True)
    q.add_parser("list", help="the queues")
    qa = q.add_parser("add", help="add a queue")
    qa.add_argument("name")
    qa.add_argument("--days", type=int, required=True, help="working days to answer")
    qa.add_argument("--default", action="store_true", help="make it the default queue")
    qs = q.add_parser("set", help="change a queue's deadline or make it the default")
    qs.add_argument("name")
    qs.add_argument("--days", type=int, help="working days to answer")
    qs.add_argument("--default", action="store_true", help="make it the default queue")

    r = cmds.add_parser("rule", help="routing rules").add_subparsers(dest="rule_cmd", required=True)
    r.add_parser("list", help="the routing rules, in the order they are tried")
    ra = r.add_parser("add", help="route matching items to a queue")
    ra.add_argument("--queue", required=True)
    ra.add_argument("--field", help="the procedure's field (lĩnh vực)")
    ra.add_argument("--procedure", help="a procedure code")
    ra.add_argument("--keywords", help="comma-separated; any one in the content matches")
    ra.add_argument("--priority", type=int, default=100, help="lower is tried first (default 100)")


def run(factory: sessionmaker, args: argparse.Namespace, data_dir=None, staff_chat: str | None = None) -> int:
    try:
        return _run(factory, args, staff_chat)
    except FeedbackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except InvalidField as e:
        print(f"error: {e.field}: {e.reason}", file=sys.stderr)
        return 2


def _run(factory: sessionmaker, args: argparse.Namespace, staff_chat: str | None = None) -> int:
    cmd = args.fb_cmd
    if cmd == "list":
        rows = service.list_items(factory, state=args.state, overdue=args.overdue, queue=args.queue)
        for r in rows:
            flag = "OVERDUE" if r["overdue"] else ""
            print(
                f"{r['code']}  {r['state']:13s}  due {r['deadline']:%Y-%m-%d}  {r['queue']}"
                f"  {r['assigned_to'] or '-'}  {r['procedure_code'] or '-'}  {flag}".rstrip()
            )
        print(f"{len(rows)} items", file=sys.stderr)
    elif cmd == "show":
        _show(factory, args.code, args.preview)
    elif cmd == "act":
        _act(factory, args)
    elif cmd == "reasons":
        for code, label in service.list_reject_reasons(factory):
            print(f"{code:24s} {label}")
    elif cmd == "overdue":
        codes = service.check_overdue(factory, staff_chat=staff_chat)
        print(f"{len(codes)} newly overdue" + (f": {', '.join(codes)}" if codes else ""))
    elif cmd == "stats":
        st = service.satisfaction(factory)
        avg = f"{st['average']:.2f}" if st["average"] is not None else "-"
        stars = ", ".join(f"{k}★ {v}" for k, v in st["by_stars"].items())
        print(f"ratings: {st['count']}  average: {avg}  ({stars})")
    elif cmd == "queue":
        if args.queue_cmd == "list":
            for q in service.list_queues(factory):
                default = " (default)" if q["is_default"] else ""
                print(f"{q['name']}: {q['deadline_days']} working days{default}{'' if q['active'] else ' inactive'}")
        elif args.queue_cmd == "add":
            service.add_queue(factory, args.name, args.days, args.default)
            print(f"queue {args.name} added")
        else:
            service.update_queue(factory, args.name, args.days, args.default)
            print(f"queue {args.name} updated")
    elif cmd == "rule":
        if args.rule_cmd == "list":
            for r in service.list_rules(factory):
                crit = [f"{k}={r[k]}" for k in ("field", "procedure_code", "keywords") if r[k]]
                print(f"#{r['id']} priority {r['priority']}: {'; '.join(crit)} -> {r['queue']}")
        else:
            words = (args.keywords or "").split(",")
            rid = service.add_rule(factory, args.queue, args.field, args.procedure, words, args.priority)
            print(f"rule #{rid} added")
    return 0


def _check_user(factory: sessionmaker, staff: str) -> str:
    from bot import users

    account = users.by_name(factory, records.check_staff(staff))
    if account is None or not account.active:
        raise FeedbackError(
            f"no staff account {staff!r} (or it is disabled); add one with `python -m bot user add {staff}`"
        )
    return account.username


def _act(factory: sessionmaker, args: argparse.Namespace) -> None:
    staff = _check_user(factory, args.staff)
    a, code, v = args.action, args.code, args.version
    if a == "claim":
        version = service.claim(factory, code, staff, v)
    elif a == "ask_info":
        version = service.ask_info(factory, code, staff, args.note or "", v)
    elif a == "transfer":
        version = service.transfer(factory, code, staff, args.agency or "", args.note, v)
    elif a == "answer":
        version = service.answer(factory, code, staff, args.note or "", v)
    elif a == "reject":
        version = service.reject(factory, code, staff, args.reason or "", args.note, v)
    elif a == "mark_duplicate":
        version = service.mark_duplicate(factory, code, staff, args.original or "", args.note, v)
    elif a == "publish":
        version = service.publish(factory, code, staff, args.content, args.answer, v)
    else:
        version = service.close(factory, code, staff, args.note, v)
    view = service.view(factory, code)
    print(f"{view.item['code']}: {view.item['state']} (version {version})")


def _local(at) -> str:
    if at is None:
        return "-"
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return f"{at.astimezone(workdays.VN_TZ):%Y-%m-%d %H:%M}"


def _show(factory: sessionmaker, code: str, preview: bool) -> None:
    v = service.view(factory, code)
    it = v.item
    print(f"{it['code']}  {it['kind']}  state {it['state']}  version {it['version']}")
    print(f"queue: {v.queue}  deadline: {it['deadline']:%Y-%m-%d}{'  OVERDUE' if v.overdue else ''}")
    print(f"received: {_local(it['created_at'])}  channel: {it['channel']}  assigned: {it['assigned_to'] or '-'}")
    print(f"procedure: {it['procedure_code'] or '-'}  field: {it['field'] or '-'}  agency/place: {it['agency'] or '-'}")
    if it["erased_at"]:
        print(f"sender: erased on request {_local(it['erased_at'])}")
    else:
        print(f"sender: {it['sender_name']}, {it['sender_address']}")
        print(f"contact: {it['sender_phone'] or '-'}  {it['sender_email'] or '-'}")
    print("content:")
    print("  " + it["content"].replace("\n", "\n  "))
    for key in ("answer", "transferred_to", "reject_reason", "reject_note", "public_content", "public_answer"):
        if it[key]:
            print(f"{key}: {it[key]}")
    if it["rating"]:
        print(f"rating: {it['rating']}/5")
    for m in v.messages:
        who = m["author"] or "citizen"
        print(f"message {_local(m['at'])} {who}: {m['body']}")
    for a in v.attachments:
        print(f"attachment: {a['path']} {a['content_type']} {a['size']} bytes sha256 {a['sha256'][:16]}…")
    if v.duplicates:
        print("possible duplicates: " + ", ".join(f"{c} ({s:.0f})" for c, s in v.duplicates))
    print("audit:")
    for e in v.audit:
        note = f"  {e['note']}" if e["note"] else ""
        change = f"{e['from_state'] or '-'} -> {e['to_state']}"
        print(f"  {_local(e['at'])}  {e['actor']:12s} {e['action']:14s} {change}{note}")
    if preview:
        p = service.preview_publication(factory, code)
        print("publication preview (question):")
        print("  " + p.content.text.replace("\n", "\n  "))
        print("publication preview (answer):")
        print("  " + (p.answer.text or "-").replace("\n", "\n  "))
        print("removed: " + (", ".join(sorted(p.content.kinds | p.answer.kinds)) or "nothing"))
