import json
import re

from knowledge.answer import NO_INFO, RENDERERS, render
from knowledge.model import Procedure

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def test_every_number_in_every_answer_is_in_the_record(app):
    """Walks all bundled records: no rendered aspect may show a number the record does not hold."""
    procs = app.kb._current().procs
    assert len(procs) == 2642
    for p in procs:
        source = json.dumps(p.to_dict(), ensure_ascii=False)
        text = render(p, tuple(RENDERERS))
        for n in NUMBER.findall(text):
            assert n in source, (p.code, n)


def test_empty_record_says_no_information():
    p = Procedure(code="9.000001", name="Thủ tục trống")
    text = render(p, ("documents", "fee", "time", "legal"))
    assert text.count(NO_INFO) == 4


def test_default_answer_shows_main_aspects_and_code(app):
    p = app.kb.get("1.001193")
    text = render(p)
    assert "1.001193" in text and "Hồ sơ cần nộp" in text and "Phí, lệ phí" in text


def test_lost_unit_is_said_not_guessed_and_zero_counts_are_hidden():
    from knowledge.model import Channel, Document

    p = Procedure(
        code="9.000002",
        name="Thử",
        channels=[Channel("Trực tuyến", "1", "1", "")],
        documents=[Document("Tờ khai", quantity="0 bản chính,1 bản sao")],
    )
    assert "Trực tuyến: 1 (hồ sơ thủ tục không ghi đơn vị thời gian)" in render(p, ("time",))
    text = render(p, ("documents",))
    assert "Tờ khai (1 bản sao)" in text and "0 bản" not in text
