"""Browsing the knowledge base by field (lĩnh vực), paged, with a level filter (xã / tỉnh)."""

from __future__ import annotations

import hashlib
import time

from handlers.core import Button, Reply
from handlers.state import State
from handlers.texts import (
    INVALID,
    NO_DOMAINS,
    PAGE,
    menu,
    short,
)
from knowledge.kb import KnowledgeBase

LEVELS = {"x": "Cấp xã", "t": "Cấp tỉnh", "a": ""}
LEVEL_LABELS = {"x": "Cấp xã", "t": "Cấp tỉnh", "a": "Tất cả các cấp"}


def _domain_key(domain: str) -> str:
    return hashlib.sha1(domain.encode()).hexdigest()[:8]


class Browser:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self._domains: dict[str, tuple[float, list[tuple[str, int]]]] = {}

    def domains(self, level: str) -> list[tuple[str, int]]:
        """Fields with their number of procedures at a level ('' for all), commune and province first."""
        cached = self._domains.get(level)
        if cached and time.monotonic() - cached[0] < 60:
            return cached[1]
        rows = []
        for domain, _ in self.kb.domains():
            procs = self.kb.browse(domain, level)
            if procs:
                local = sum(1 for p in procs if "Cấp xã" in p.levels or "Cấp tỉnh" in p.levels)
                rows.append((domain, len(procs), local))
        rows.sort(key=lambda r: (-r[2], -r[1], r[0]))
        result = [(d, n) for d, n, _ in rows]
        self._domains[level] = (time.monotonic(), result)
        return result

    def page(self, state: State, level: str, page: int, replace: bool = False) -> Reply:
        n = state.turn
        rows = self.domains(LEVELS[level])
        pages = max(1, -(-len(rows) // PAGE))
        page = min(max(page, 0), pages - 1)
        shown = rows[page * PAGE : (page + 1) * PAGE]
        filters = tuple(
            Button(("✓ " if lv == level else "") + LEVEL_LABELS[lv], f"d:{n}:{lv}:0", group="level") for lv in "xta"
        )
        if not shown:
            return Reply(NO_DOMAINS, filters, replace=replace)
        where = f" · {LEVEL_LABELS[level]}" if level != "a" else ""
        text = f"Tra cứu theo lĩnh vực{where}: chọn một lĩnh vực (trang {page + 1}/{pages})."
        buttons = [Button(f"{d} ({c})", f"l:{n}:{_domain_key(d)}:{level}:0", group="domains") for d, c in shown]
        nav = []
        if page > 0:
            nav.append(Button("◀ Trang trước", f"d:{n}:{level}:{page - 1}", group="nav"))
        if page + 1 < pages:
            nav.append(Button("Trang sau ▶", f"d:{n}:{level}:{page + 1}", group="nav"))
        return Reply(text, (*filters, *buttons, *nav), replace=replace)

    def domains_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 2 or args[0] not in LEVELS or not args[1].isdigit():
            return [Reply(INVALID, menu(state.turn))]
        return [self.page(state, args[0], int(args[1]), replace=True)]

    def list_button(self, state, drawn, args, journal, form) -> list[Reply]:
        if len(args) != 3 or args[1] not in LEVELS or not args[2].isdigit():
            return [Reply(INVALID, menu(state.turn))]
        domain = next((d for d, _ in self.kb.domains() if _domain_key(d) == args[0]), None)
        if domain is None:
            return [Reply(INVALID, menu(state.turn))]
        level, n = args[1], state.turn
        procs = self.kb.browse(domain, LEVELS[level])
        pages = max(1, -(-len(procs) // PAGE))
        page = min(int(args[2]), pages - 1)
        shown = procs[page * PAGE : (page + 1) * PAGE]
        key = args[0]
        filters = tuple(
            Button(("✓ " if lv == level else "") + LEVEL_LABELS[lv], f"l:{n}:{key}:{lv}:0", group="level")
            for lv in "xta"
        )
        where = f" · {LEVEL_LABELS[level]}" if level != "a" else ""
        if not shown:
            text = f"Lĩnh vực {domain}{where}: không có thủ tục nào ở cấp này."
        else:
            text = f"Lĩnh vực {domain}{where}: {len(procs)} thủ tục (trang {page + 1}/{pages}).\n\n" + "\n".join(
                f"{i}. {p.name}" for i, p in enumerate(shown, 1)
            )
        state.offered = [p.code for p in shown]
        state.offered_turn = n
        state.offered_aspects = []
        state.offered_q = ""
        picks = tuple(Button(f"{i}. {short(p.name)}", f"c:{n}:{i - 1}", group="pick") for i, p in enumerate(shown, 1))
        nav = []
        if page > 0:
            nav.append(Button("◀ Trang trước", f"l:{n}:{key}:{level}:{page - 1}", group="nav"))
        if page + 1 < pages:
            nav.append(Button("Trang sau ▶", f"l:{n}:{key}:{level}:{page + 1}", group="nav"))
        back = Button("↩ Lĩnh vực khác", f"d:{n}:{level}:0", group="back")
        return [Reply(text, (*filters, *picks, *nav, back), replace=True)]
