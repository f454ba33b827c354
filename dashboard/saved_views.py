"""Saved inbox views: a staff member's named filters (the inbox's query string), theirs alone."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import sessionmaker

from dashboard.tables import saved_views

MAX_NAME = 80
MAX_VIEWS = 30  # per account


class ViewError(ValueError):
    """A refused view; the message is Vietnamese."""


def list_views(factory: sessionmaker, user_id: int) -> list[dict]:
    with factory() as s:
        rows = s.execute(
            select(saved_views.c.id, saved_views.c.name, saved_views.c.query)
            .where(saved_views.c.user_id == user_id)
            .order_by(saved_views.c.name, saved_views.c.id)
        )
        return [dict(r._mapping) for r in rows]


def save(factory: sessionmaker, user_id: int, name: str, query: str) -> int:
    """Save `query` under `name` (a view of the same name takes the new query); returns the view's id."""
    name = " ".join((name or "").split())
    if not name:
        raise ViewError("Hãy đặt tên cho bộ lọc.")
    if len(name) > MAX_NAME:
        raise ViewError(f"Tên bộ lọc dài quá {MAX_NAME} ký tự.")
    mine = saved_views.c.user_id == user_id
    with factory.begin() as s:
        same = s.scalar(select(saved_views.c.id).where(mine, saved_views.c.name == name))
        if same is not None:
            s.execute(update(saved_views).where(saved_views.c.id == same).values(query=query))
            return same
        if s.scalar(select(func.count()).select_from(saved_views).where(mine)) >= MAX_VIEWS:
            raise ViewError(f"Mỗi tài khoản lưu được tối đa {MAX_VIEWS} bộ lọc; hãy xóa bớt bộ lọc cũ.")
        return s.execute(insert(saved_views).values(user_id=user_id, name=name, query=query)).inserted_primary_key[0]


def delete_view(factory: sessionmaker, user_id: int, view_id: int) -> bool:
    """Delete one of the account's own views; False when it has no such view."""
    with factory.begin() as s:
        gone = s.execute(
            delete(saved_views).where(saved_views.c.id == view_id, saved_views.c.user_id == user_id)
        ).rowcount
    return gone == 1
