"""`python -m bot`: serve, chat, and operate the database, the knowledge base and accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Sequence

from bot import db
from bot.app import App, build
from bot.logs import setup_logging
from bot.settings import SettingsError, load_settings
from knowledge import store

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Administrative-procedure and feedback bot.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    runp = sub.add_parser("run", help="serve the app (HTTP server; Telegram when TELEGRAM_BOT_TOKEN is set)")
    runp.add_argument(
        "--workers", type=int, default=1, metavar="N", help="server processes sharing the port and the database"
    )
    runp.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one of --workers N
    sub.add_parser("demo", help="prepare everything, serve on localhost and open a chat in this terminal")
    chatp = sub.add_parser("chat", help="talk to the bot in this terminal")
    who = chatp.add_mutually_exclusive_group()
    who.add_argument(
        "--user", default="local", type=_user_name, help="the conversation to use (default: local; it carries on)"
    )
    who.add_argument("--new", action="store_true", help="start a fresh conversation (a new random user)")

    dbp = sub.add_parser("db", help="database commands").add_subparsers(dest="db_cmd", required=True)
    dbp.add_parser("upgrade", help="apply the schema migrations")
    for name, what in (
        ("backup", "write a consistent backup of the database to PATH, also while the app runs"),
        ("restore", "replace the database's content with the backup at PATH (stop the app first)"),
    ):
        dbp.add_parser(name, help=what).add_argument("path")

    kb = sub.add_parser("kb", help="knowledge-base commands").add_subparsers(dest="kb_cmd", required=True)
    imp = kb.add_parser("import", help="import procedures (portal JSONL[.gz], or the project's JSONL/XLSX/CSV)")
    imp.add_argument("path")
    imp.add_argument("--actor", default="cli", help="who is recorded in the change history")
    exp = kb.add_parser("export", help="export procedures (.jsonl, .jsonl.gz, .xlsx or .csv by extension)")
    exp.add_argument("path")
    srch = kb.add_parser("search", help="search; with --jsonl -, the batch contract on stdin/stdout")
    srch.add_argument("text", nargs="*", help="the question")
    srch.add_argument("--jsonl", metavar="-", help="read {id, q, history} lines from stdin ('-')")
    kb.add_parser("stats", help="counts of procedures, fields and levels")
    chk = kb.add_parser("check", help="list every problem found in the data: code, field, what is wrong")
    chk.add_argument("--code", help="only the problems of this procedure")
    chk.add_argument("--json", action="store_true", help="one JSON object per problem and line")
    hist = kb.add_parser("history", help="the change history of one procedure (when, by whom, which fields)")
    hist.add_argument("code")
    for kind in ("alias", "question"):
        k = kb.add_parser(kind, help=f"add a{'n' if kind == 'alias' else ''} {kind} to a procedure")
        k.add_argument("action", choices=["add"])
        k.add_argument("code")
        k.add_argument("text")

    user = sub.add_parser("user", help="staff accounts").add_subparsers(dest="user_cmd", required=True)
    ua = user.add_parser("add", help="add a staff or admin account (password read from the terminal or stdin)")
    ua.add_argument("username")
    ua.add_argument("--role", choices=["staff", "supervisor", "admin"], default="staff")
    ua.add_argument(
        "--queue", action="append", default=[], metavar="Q", help="a feedback queue the account works on (repeatable)"
    )

    from feedback.cli import add_subcommands as add_feedback

    add_feedback(sub)
    return p


def _user_name(value: str) -> str:
    """A console conversation's name: 1–64 characters, no spaces (it is the stored user id)."""
    if not 1 <= len(value) <= 64 or any(c.isspace() for c in value):
        raise argparse.ArgumentTypeError("1 to 64 characters, no spaces")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        # In a terminal chat, routine log lines would interleave with the conversation.
        quiet = args.cmd in ("chat", "demo") and settings.log_level == "INFO"
        setup_logging(
            "WARNING" if quiet else settings.log_level,
            secrets=settings.secrets,
        )
        return _dispatch(args, settings)
    except (SettingsError, db.DatabaseError, store.ImportFailed) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, settings) -> int:
    if args.cmd == "db":
        from bot import backup

        if args.db_cmd == "backup":
            backup.backup(settings.db_url, args.path)
            print(f"backed up the database to {args.path}")
        elif args.db_cmd == "restore":
            backup.restore(settings.db_url, args.path)
            print(f"restored the database from {args.path}")
        else:
            db.upgrade(db.make_engine(settings.db_url))
            print("database is up to date")
        return 0
    if args.cmd == "kb" and args.kb_cmd == "import":
        app = build(settings, prepare=False)
        db.upgrade(app.engine)
        report = store.import_file(app.factory, args.path, args.actor, _progress)
        print(f"imported {args.path}: {report}")
        return 0
    if args.cmd == "feedback":
        from feedback.cli import run as feedback_cli

        engine = db.make_engine(settings.db_url)
        db.upgrade(engine)
        return feedback_cli(db.session_factory(engine), args, settings.data_dir, settings.staff_chat)
    app = build(settings)
    if args.cmd == "kb":
        return _kb(app, args)
    if args.cmd == "user":
        return _user(app, args)
    if args.cmd == "chat":
        from bot.console import chat

        user = f"console-{uuid.uuid4().hex[:8]}" if args.new else args.user
        chat(app.conversations, user=user, deliver=_console_delivery(app), echo=not sys.stdin.isatty())
        return 0
    if args.cmd == "run":
        from bot.serve import run_process, run_workers

        if args.workers > 1:
            return run_workers(args.workers, settings)
        run_process(app, reuse_port=args.worker)
        return 0
    if args.cmd == "demo":
        return _demo(app)
    return 1


def _progress(done: int, total: int) -> None:
    print(f"\r  {done}/{total} records", end="\n" if done == total else "", file=sys.stderr, flush=True)


def _kb(app: App, args: argparse.Namespace) -> int:
    if args.kb_cmd == "export":
        with app.factory() as s:
            n = store.export_file(s, args.path)
        print(f"exported {n} procedures to {args.path}")
    elif args.kb_cmd == "search":
        if args.jsonl is not None:
            return _search_batch(app)
        text = " ".join(args.text)
        if not text.strip():
            print("error: give a question, or --jsonl - for batch input", file=sys.stderr)
            return 2
        r = app.kb.search(text)
        print(f"decision: {r.decision}  aspects: {', '.join(r.aspects) or '-'}  confidence: {r.confidence:.2f}")
        for h in r.hits:
            print(f"  {h.code:10s} {h.score:6.3f}  {h.name}")
    elif args.kb_cmd == "stats":
        procs = app.kb._current().procs
        levels: dict[str, int] = {}
        for p in procs:
            for lv in p.levels:
                levels[lv] = levels.get(lv, 0) + 1
        print(f"procedures: {len(procs)}")
        print("levels: " + ", ".join(f"{k} {v}" for k, v in sorted(levels.items())))
        print("top fields: " + ", ".join(f"{k} {v}" for k, v in app.kb.domains()[:10]))
        with app.factory() as s:
            flagged = sum(1 for p in store.load_all(s) if p.flags)
        if flagged:
            print(f"flagged, kept out of search and answers: {flagged} (see kb check)")
    elif args.kb_cmd == "check":
        return _check(app, args)
    elif args.kb_cmd == "history":
        with app.factory() as s:
            changes = store.history(s, args.code)
        if not changes:
            print(f"error: no history for {args.code}", file=sys.stderr)
            return 2
        for c in changes:
            print(f"{c['at']:%Y-%m-%d %H:%M:%S}  {c['action']:6s}  {c['actor']:12s}  {', '.join(c['fields'])}")
    elif args.kb_cmd in ("alias", "question"):
        added = store.add_text(
            app.factory,
            args.code,
            f"{args.kb_cmd}es" if args.kb_cmd == "alias" else "questions",
            args.text,
            actor="cli",
        )
        print("added" if added else "already there")
    return 0


def _check(app: App, args: argparse.Namespace) -> int:
    """`kb check`: every problem in the data, one line each: code, field, what is wrong."""
    from knowledge import vocabulary
    from knowledge.integrity import check

    with app.factory() as s:
        procs = store.load_all(s)
        in_use = vocabulary.load(s)  # the life events and everyday names the search and the dialog use
    if args.code and all(p.code != args.code for p in procs):
        print(f"error: no procedure with code {args.code}", file=sys.stderr)
        return 2
    problems = check(procs, args.code)
    for x in problems:
        if args.json:
            print(json.dumps(x.to_dict(), ensure_ascii=False))
        else:
            print(f"{x.code:10s} {x.field:26s} {'[kept out] ' if x.damaged else ''}{x.message}")
    records, damaged = len({x.code for x in problems}), len({x.code for x in problems if x.damaged})
    print(f"problems: {len(problems)} in {records} records; kept out of search and answers: {damaged}", file=sys.stderr)
    # The data the search and the dialog add to the records: every code they name must be a searchable one.
    searchable = {p.code for p in procs if not p.flags}
    words = [f"everyday name of {c}: no such procedure" for c in in_use.everyday if c not in searchable]
    words += in_use.events.problems(searchable)
    for line in words:
        print(f"{'-':10s} {'data':26s} {line}")
    return 0


def _search_batch(app: App) -> int:
    """The batch contract: one JSON object per input line, one per output line, in order."""
    app.kb.search("khởi động")  # build the index before timing queries
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            q = str(item.get("q", ""))
            history = [str(h) for h in item.get("history") or []]
        except (json.JSONDecodeError, AttributeError):
            print(json.dumps({"id": None, "error": f"line {n}: malformed JSON"}), flush=True)
            continue
        t0 = time.perf_counter()
        r = app.kb.search(q, history)
        ms = (time.perf_counter() - t0) * 1000
        out = {
            "id": item.get("id"),
            "codes": r.codes[:5],
            "decision": r.decision,
            "aspects": list(r.aspects),
            "ms": round(ms, 3),
        }
        print(json.dumps(out, ensure_ascii=False))
    sys.stdout.flush()
    return 0


def _user(app: App, args: argparse.Namespace) -> int:
    from bot.users import UserError, add_user

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    try:
        add_user(app.factory, args.username, password, args.role, args.queue)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"user {args.username} added ({args.role})")
    return 0


def _console_delivery(app: App, write=print):
    """After each terminal message: deliver what the outbox holds for the console (acknowledgements,
    answers with their rating buttons …); returns the buttons printed, for the chat to press by number."""
    from bot.notify import Senders, console_sender, deliver_now

    shown: list = []
    senders = Senders({"console": console_sender(write, shown)})

    def deliver() -> list:
        shown.clear()
        asyncio.run(deliver_now(app.factory, senders))
        return list(shown)

    return deliver


def _demo(app: App) -> int:
    from bot import demo
    from bot.console import chat
    from bot.serve import serve

    username, password = demo.admin_account(app)
    demo.seed_items(app)

    stop_loop: list = []

    def in_thread() -> None:
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        stop_loop.extend([loop, stop])
        try:
            loop.run_until_complete(serve(app, stop, listening))
        except db.DatabaseError as e:
            print(f"warning: {e}", file=sys.stderr)
        finally:
            listening.set()  # failed to start: the chat goes on without the pages

    listening = threading.Event()
    thread = threading.Thread(target=in_thread, daemon=True)
    thread.start()
    listening.wait(timeout=60)
    base = f"http://{app.settings.host}:{app.settings.port}"
    print(f"Server: {base}/healthz  ·  search API: {base}/api/search?q=khai+sinh")
    print(f"Staff dashboard: {base}/admin  ·  user {username}  ·  password {password} (new on every run)")
    chat(app.conversations, deliver=_console_delivery(app), echo=not sys.stdin.isatty())
    if stop_loop:
        loop, stop = stop_loop
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=5)
    return 0
