"""The Zalo Official Account channel: `client` (a thin aiohttp client of the OA API), `tokens` (the OA's token
pair in the database, refreshed under a lease shared by every process), `channel` (webhook, events, replies)."""
