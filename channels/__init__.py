"""Channel adapters besides Telegram (bot/telegram.py) and the console (bot/console.py), and what every channel
fed through the inbox shares (`channels.base`): Zalo Official Account in `channels.zalo`."""
