"""The knowledge base as the rest of the app sees it: search, records and the vocabulary added to them (life
events, everyday names), kept in step with the database. An edit made by any process (CLI, dashboard) bumps the
revision; the next search after it rebuilds the index, so no restart is needed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy.orm import sessionmaker

from knowledge import store, vocabulary
from knowledge.events import EventMap
from knowledge.model import Procedure
from knowledge.search import SearchIndex, SearchResult
from knowledge.topics import Topics
from knowledge.topics import bundled as not_held

# How often (seconds) a search looks at the revision counter in the database.
REVISION_CHECK_INTERVAL = 1.0


class KnowledgeBase:
    def __init__(self, factory: sessionmaker, topics: Topics | None = None):
        self.factory = factory
        self.topics = topics if topics is not None else not_held()  # needs the records do not hold
        self._lock = threading.Lock()
        self._index: SearchIndex | None = None
        self._events: EventMap | None = None
        self._revision = -1
        self._checked = 0.0
        self.timed: Callable[[float], object] | None = None  # told each search's seconds (the app's metrics)

    def _current(self) -> SearchIndex:
        now = time.monotonic()
        if self._index is not None and now - self._checked < REVISION_CHECK_INTERVAL:
            return self._index
        with self._lock:
            with self.factory() as session:
                revision = store.current_revision(session)
                if self._index is None or revision != self._revision:
                    # Damaged records (flagged at import) are never searched, browsed or answered.
                    procs = [p for p in store.load_all(session) if not p.flags]
                    words = vocabulary.load(session)
                    self._events = words.events
                    self._index = SearchIndex(procs, self.topics, words.everyday)
                    self._revision = revision
            self._checked = now
        return self._index

    def refresh(self) -> None:
        """Look at the revision on the next call (after an edit made in this process: no second's wait)."""
        self._checked = 0.0

    @property
    def events(self) -> EventMap:
        """What each life event calls for: the newest version admins saved, else the bundled map."""
        self._current()
        return self._events

    def search(self, text: str, history: Sequence[str] = (), k: int = 5) -> SearchResult:
        started = time.perf_counter()
        result = self._current().search(text, history, k)
        if self.timed is not None:
            self.timed(time.perf_counter() - started)
        return result

    def get(self, code: str) -> Procedure | None:
        index = self._current()
        i = index.by_code.get(code)
        return index.procs[i] if i is not None else None

    def domains(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for p in self._current().procs:
            if p.domain:
                counts[p.domain] = counts.get(p.domain, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def browse(self, domain: str, level: str = "") -> list[Procedure]:
        """Procedures of one field, optionally of one level ('Cấp xã', 'Cấp tỉnh', 'Cấp bộ'), by name."""
        procs = [p for p in self._current().procs if p.domain == domain and (not level or level in p.levels)]
        return sorted(procs, key=lambda p: p.name)

    def __len__(self) -> int:
        return len(self._current().procs)
