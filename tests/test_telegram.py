"""End to end: python-telegram-bot pointed at a fake Bot API server, in polling and webhook mode."""

import asyncio
import itertools
import socket

import aiohttp
import pytest
from fake_telegram import SECRET, Chat, button, buttons, telegram_app
from telegram import Update

from bot.dispatch import Dispatcher
from bot.serve import serve
from bot.settings import SettingsError, load_settings
from bot.telegram import SECRET_HEADER, TYPING_AFTER, TelegramChannel, incoming
from channels.base import split_message, utf16_len
from feedback import outbox
from handlers import pakn
from handlers import texts as d
from handlers.core import Button, Reply, reply_json

_users = itertools.count(5_000_001)








def chat(api) -> Chat:
    return Chat(api, next(_users))


def texts(messages):
    return [m["text"] for m in messages]


async def test_start_registers_commands_and_polls(polling, api):
    [(method, params)] = [(m, p) for m, p in api.calls if m == "setMyCommands"]
    assert [c["command"] for c in params["commands"]] == list(d.COMMANDS)
    assert all(c["description"] for c in params["commands"])
    assert api.sent("deleteWebhook")  # long polling: no webhook left behind
    citizen = chat(api)
    greeting = await citizen.say("/start")
    assert greeting["text"] == d.WELCOME
    assert [b["text"] for b in buttons(greeting)] == [
        "Hỏi thủ tục",
        "Tra cứu theo lĩnh vực",
        "Gửi phản ánh, kiến nghị",
        "Tra cứu phản ánh",
        "Hướng dẫn",
    ]
    assert api.sent(chat_id=citizen.chat["id"])[-1]["parse_mode"] == "HTML"


async def test_a_citizen_asks_follows_up_presses_buttons_and_rates(polling, api, app):
    citizen = chat(api)
    card = await citizen.say("đăng ký khai tử lệ phí bao nhiêu")
    assert "Mã thủ tục: 1.000656" in card["text"] and "Phí, lệ phí:" in card["text"]
    labels = [b["text"] for b in buttons(card)]
    assert "Hồ sơ" in labels and "Lệ phí" not in labels and {"Hữu ích", "Chưa hữu ích"} <= set(labels)
    assert button(card, "Xem trên Cổng Dịch vụ công")["url"].startswith("https://")

    follow = await citizen.say("thế còn thời hạn?")
    assert "Mã thủ tục: 1.000656" in follow["text"] and "Thời hạn giải quyết:" in follow["text"]

    answers = len(api.sent("answerCallbackQuery"))
    docs = await citizen.press("Hồ sơ", card)
    assert "Hồ sơ cần nộp:" in docs["text"] and "Mã thủ tục: 1.000656" in docs["text"]
    assert len(api.sent("answerCallbackQuery")) == answers + 1

    thanks = await citizen.press("Hữu ích", docs)
    assert thanks["text"] == d.RATED
    ask = await citizen.press("Chưa hữu ích", follow)
    assert ask["text"] == d.ASK_MISSING
    done = await citizen.say("thiếu trường hợp người nước ngoài")
    assert done["text"] == d.MISSING_THANKS


async def test_clarify_candidates_and_browse_pages(polling, api):
    citizen = chat(api)
    offer = await citizen.say("giấy phép")
    assert [b["text"][:3] for b in buttons(offer)][:2] == ["1. ", "2. "]  # candidates to choose from
    second = await citizen.press("2. ", offer)
    assert "Mã thủ tục:" in second["text"]

    fields = await citizen.say("/linhvuc")
    commune = await citizen.press("Cấp xã", fields)
    assert commune["message_id"] == fields["message_id"]  # the same message, edited
    assert "· Cấp xã" in commune["text"]
    hotich = await citizen.press("Hộ tịch (", commune)
    assert hotich["text"].startswith("Lĩnh vực Hộ tịch · Cấp xã:") and "(trang 1/" in hotich["text"]
    page2 = await citizen.press("Trang sau ▶", hotich)
    assert "(trang 2/" in page2["text"] and page2["message_id"] == fields["message_id"]
    card = await citizen.press("1. ", page2)
    assert "Mã thủ tục:" in card["text"] and card["message_id"] != fields["message_id"]


async def test_the_feedback_menu_opens_the_form(polling, api):
    citizen = chat(api)
    menu = await citizen.say("/menu")
    reply = await citizen.press("Gửi phản ánh, kiến nghị", menu)
    assert reply["text"] == pakn.INTRO
    assert [b["text"] for b in buttons(reply)] == ["Phản ánh", "Kiến nghị", "Hủy"]


async def test_bad_input_through_telegram(polling, api):
    citizen = chat(api)
    empty = await citizen.say("🙂🙂")
    assert empty["text"] == d.EMPTY
    sticker = await citizen.say("", sticker=_sticker())
    assert sticker["text"] == d.EMPTY
    photo = await citizen.say("", photo=[_photo("small", 90), _photo("big", 1280)], caption="ảnh hồ sơ")
    assert photo["text"] == d.FILE_NOT_HERE
    doc = await citizen.say("", document={"file_id": "doc1", "file_unique_id": "u-doc1", "file_name": "a.pdf"})
    assert doc["text"] == d.FILE_NOT_HERE
    long = await citizen.say("khai sinh " * 1000)
    assert long["text"] == d.TOO_LONG.format(n=d.MAX_TEXT)
    injected = await citizen.say("<b>khai tử</b> <a href='http://evil.example'>bấm</a>")
    assert "Mã thủ tục: 1.000656" in injected["text"] and "evil" not in injected["text"]
    last = citizen.last()
    forged = await _press_data(citizen, "a:99999:1.000656:fee", last)
    assert forged["text"] == d.INVALID
    unknown = await _press_data(citizen, "<b>x</b>", last)
    assert unknown["text"] == d.INVALID


async def test_the_same_update_twice_is_answered_once(polling, api):
    citizen = chat(api)
    update = citizen.message_update("/start")
    await api.push(update)
    await citizen.send(dict(update))  # Telegram redelivers the very same update
    then = await citizen.say("/help")
    assert then["text"] == d.HELP
    assert texts(citizen.mine()) == [d.WELCOME, d.HELP]


async def test_a_burst_from_one_user_is_answered_in_order(polling, api):
    citizen = chat(api)
    menu = await citizen.say("/menu")
    burst = [
        citizen.callback_update(button(menu, "Hướng dẫn")["callback_data"], menu),
        citizen.message_update("đăng ký khai tử"),
        citizen.message_update("/dulieucuatoi"),
        citizen.callback_update(button(menu, "Hỏi thủ tục")["callback_data"], menu),
        citizen.message_update("thế còn lệ phí?"),
    ]
    before = citizen.count()
    await api.push(*burst)
    for update in burst:
        await api.handled(update)
    got = texts(citizen.mine()[before:])
    assert got[0] == d.HELP and "Mã thủ tục: 1.000656" in got[1]
    mine = next(i for i, t in enumerate(got) if t.startswith("Thông tin hệ thống đang lưu về bạn"))
    rest = got[mine:]
    assert "1 câu hỏi gần đây" in rest[0]  # the question just asked is what is stored so far
    assert rest[1] == d.ASK_PROMPT and "Phí, lệ phí:" in rest[2]


async def test_group_chats_are_not_served(polling, api):
    group = Chat(api, next(_users))
    group.chat = {"id": -100123, "type": "group", "title": "Nhóm"}
    update = group.message_update("khai sinh")
    assert incoming(Update.de_json(update, polling.bot)) is None
    assert incoming(Update.de_json(chat(api).message_update("khai sinh"), polling.bot)).text == "khai sinh"
    await api.push(update)
    citizen = chat(api)
    await citizen.say("/start")
    assert not api.sent(chat_id=-100123)


async def test_html_is_escaped_and_long_messages_are_split(polling, api):
    citizen = chat(api)
    injection = "<b>đậm</b> & <a href='https://evil.example'>link</a> *md* _x_"
    await polling.send(outgoing(citizen, Reply(injection, (Button("Hữu ích", "m:1:help"),))))
    sent = api.sent(chat_id=citizen.chat["id"])[-1]
    assert sent["parse_mode"] == "HTML"
    assert sent["text"] == "&lt;b&gt;đậm&lt;/b&gt; &amp; &lt;a href='https://evil.example'&gt;link&lt;/a&gt; *md* _x_"
    before = len(api.sent(chat_id=citizen.chat["id"]))
    lines = [f"{n:05d} " + "thủ tục hành chính " * 10 for n in range(200)]
    await polling.send(outgoing(citizen, Reply("\n".join(lines), (Button("Hữu ích", "m:1:help"),))))
    parts = api.sent(chat_id=citizen.chat["id"])[before:]
    assert len(parts) > 1 and all(utf16_len(p["text"]) <= 4096 for p in parts)
    assert "\n".join(p["text"] for p in parts) == "\n".join(lines)  # cut at line ends, nothing lost
    assert [bool(p.get("reply_markup")) for p in parts] == [False] * (len(parts) - 1) + [True]


async def test_typing_shows_only_while_an_answer_takes_time(polling, api):
    """A turn slower than TYPING_AFTER shows "typing…" before its answer (renewed while it lasts); a quick one sends
    no such request."""
    slow, quick = chat(api), chat(api)
    assert await polling._with_typing(slow.chat["id"], asyncio.sleep(TYPING_AFTER + 0.5, "xong")) == "xong"
    [typing] = api.sent("sendChatAction", slow.chat["id"])
    assert typing["action"] == "typing"
    assert await polling._with_typing(quick.chat["id"], asyncio.sleep(0, "xong")) == "xong"
    assert api.sent("sendChatAction", quick.chat["id"]) == []


def outgoing(citizen: Chat, reply: Reply) -> outbox.Outgoing:
    """A reply as the outbox hands it to the channel."""
    return outbox.Outgoing(0, "telegram", str(citizen.chat["id"]), reply.text, reply=reply_json(reply))


def test_split_message():
    assert split_message("", 4096) == ["…"]
    assert split_message("a\nb", 4096) == ["a\nb"]
    assert split_message("ab\ncd", limit=3) == ["ab", "cd"]
    long_line = "từ " * 3000
    parts = split_message(long_line, 4096)
    assert all(utf16_len(p) <= 4096 for p in parts) and " ".join(parts).split() == long_line.split()
    emoji = "😀" * 3000  # two UTF-16 units each
    parts = split_message(emoji, 4096)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == emoji


# ---- webhook mode ------------------------------------------------------------------------------





async def test_webhook_is_registered_with_its_secret(webhook, api):
    [params] = api.sent("setWebhook")
    assert params["url"] == "https://bot.example.vn/telegram/webhook"
    assert params["secret_token"] == SECRET
    assert params["allowed_updates"] == ["message", "callback_query"]


async def test_webhook_checks_the_secret(webhook, api, app):
    _, client = webhook
    intruder, citizen = chat(api), chat(api)
    path = "/telegram/webhook"
    r = await client.post(path, json=intruder.message_update("/start"))
    assert r.status == 401
    r = await client.post(
        path, json=intruder.message_update("/start"), headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
    )
    assert r.status == 403
    r = await client.post(path, data=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert r.status == 400
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    update = citizen.message_update("đăng ký khai tử")
    r = await client.post(path, json=update, headers=good)
    assert r.status == 200
    await api.handled(update)
    card = citizen.mine()[-1]  # a long card's last part carries the buttons
    assert "Mã thủ tục: 1.000656" in citizen.mine()[0]["text"]
    parts = citizen.count()
    r = await client.post(path, json=update, headers=good)  # redelivered
    assert r.status == 200
    await api.handled(update)
    assert citizen.count() == parts  # no second answer
    press = citizen.callback_update(button(card, "Các bước")["callback_data"], card)
    r = await client.post(path, json=press, headers=good)
    assert r.status == 200
    await api.handled(press)
    assert "Các bước thực hiện:" in citizen.mine()[parts]["text"]
    # nothing from the intruder was processed
    assert not api.sent(chat_id=intruder.chat["id"])
    assert app.conversations.state("telegram", str(intruder.chat["id"])).turn == 0


def test_webhook_mode_needs_its_settings(app, api):
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramChannel(
            telegram_app(app, api, telegram_mode="webhook", public_base_url="https://x.vn"), Dispatcher(None)
        )
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        TelegramChannel(
            telegram_app(app, api, telegram_mode="webhook", telegram_webhook_secret=SECRET), Dispatcher(None)
        )
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        load_settings(telegram_webhook_secret="has spaces")
    with pytest.raises(SettingsError, match="TELEGRAM_MODE"):
        load_settings(telegram_mode="push")


# ---- helpers -----------------------------------------------------------------------------------


def _photo(uid, size):
    return {"file_id": f"ph-{uid}", "file_unique_id": f"u-{uid}", "width": size, "height": size}


def _sticker():
    return {
        "file_id": "st1",
        "file_unique_id": "u-st1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }


async def _press_data(citizen: Chat, data: str, message: dict) -> dict:
    [reply] = await citizen.tap(data, message)
    return reply


async def test_run_serves_the_webhook_on_the_app_server(app, api):
    """`python -m bot run` wiring: the HTTP server, Telegram registered, updates posted to our own port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tapp = telegram_app(
        app,
        api,
        telegram_mode="webhook",
        telegram_webhook_secret=SECRET,
        public_base_url="https://bot.example.vn",
        host="127.0.0.1",
        port=port,
    )
    stop = asyncio.Event()
    server = asyncio.create_task(serve(tapp, stop))
    try:
        await api.wait_for(lambda: bool(api.sent("setWebhook")), "register its webhook")
        citizen = chat(api)
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert r.status == 200
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            r = await http.post(url, json=citizen.message_update("/start"))
            assert r.status == 401
            r = await http.post(url, json=citizen.message_update("/start"), headers={SECRET_HEADER: SECRET})
            assert r.status == 200
        await api.wait_for(lambda: citizen.count() == 1, "greet")
        assert citizen.last()["text"] == d.WELCOME
    finally:
        stop.set()
        await server
