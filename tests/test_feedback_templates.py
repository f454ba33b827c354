"""Answer templates: per action and kind, inactive ones kept but not offered, refused input with a reason."""

import pytest
from feedback_util import migrated

from feedback import templates as tpl
from feedback.routing import ConfigError


@pytest.fixture
def factory(any_url):
    engine, factory = migrated(any_url)
    yield factory
    engine.dispose()


def titles(factory, action, kind):
    return [t["title"] for t in tpl.active_for(factory, action, kind)]


def test_active_for_kind_first_then_both_kinds(factory):
    assert titles(factory, "answer", "phan_anh") == ["Trả lời theo quy định"]  # from the migration
    tpl.add_template(factory, "answer", "kien_nghi", "Kiến nghị đã tiếp thu", "Sở Tư pháp ghi nhận …")
    general = tpl.add_template(factory, "answer", None, "Anh chung", "Nội dung chung")
    assert titles(factory, "answer", "kien_nghi") == ["Kiến nghị đã tiếp thu", "Anh chung", "Trả lời theo quy định"]
    assert titles(factory, "answer", "phan_anh") == ["Anh chung", "Trả lời theo quy định"]
    assert set(tpl.active_for(factory, "reject", "phan_anh")[0]) == {"id", "title", "body"}
    tpl.edit_template(factory, general, "answer", None, "Anh chung", "Nội dung chung", active=False)
    assert titles(factory, "answer", "phan_anh") == ["Trả lời theo quy định"]
    assert any(t["id"] == general and not t["active"] for t in tpl.list_templates(factory))


@pytest.mark.parametrize(
    "action,kind,title,body",
    [("publish", None, "x", "y"), ("answer", "khieu_nai", "x", "y"), ("answer", None, "  ", "y"),
     ("answer", None, "x" * 121, "y"), ("answer", None, "x", ""), ("answer", None, "x", "y" * 4001)],
)  # fmt: skip
def test_refused_with_a_vietnamese_reason(factory, action, kind, title, body):
    before = tpl.list_templates(factory)
    with pytest.raises(ConfigError) as e:
        tpl.add_template(factory, action, kind, title, body)
    assert e.value.vi and tpl.list_templates(factory) == before
