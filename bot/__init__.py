"""tthc-bot: the application (settings, database, channels, server, CLI)."""
