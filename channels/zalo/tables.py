"""The Zalo channel's tables: the OA's token pair (a refresh token works once: the pair in use is kept here, for
every process and across restarts) and, per user, the numbered choices shown last."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, Text

metadata = MetaData()

tokens = Table(
    "zalo_tokens",
    metadata,
    Column("app_id", String(32), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # of the access token
    Column("seed", String(64), nullable=False),  # SHA-256 of ZALO_REFRESH_TOKEN when the first pair came from it
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

choices = Table(
    "zalo_choices",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("numbers", JSON, nullable=False),  # {"6": payload, …}: what typing a number of the last list presses
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
