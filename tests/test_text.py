from knowledge.text import analyze, fold, normalize, record_syllables, restyle


def test_fold_removes_diacritics_and_d_stroke():
    assert fold("Đăng ký KHAI SINH") == "dang ky khai sinh"
    assert fold("Thủ tục") == fold("Thu\u0309 tu\u0323c")  # decomposed marks are NFC-normalised first


def test_normalize_splits_camel_case_and_spaces():
    assert normalize("  KetHon   can  ") == "ket hon can"
    assert record_syllables("ĐăngKý tạm-trú! BHXH") == ["dang", "ky", "tam", "tru", "bao", "hiem", "xa", "hoi"]


def test_abbreviations_and_slang_expand():
    a = analyze("dk thuong tru can nhung gi vay ad")
    assert a.terms == ("dang", "ky", "thuong", "tru")
    assert a.aspects == ("documents",)


def test_everyday_names_map_to_record_words():
    assert analyze("làm sổ đỏ").terms[:4] == ("giay", "chung", "nhan", "quyen")


def test_a_story_implies_a_procedure_without_naming_it():
    a = analyze("nhà em mới sinh em bé")
    assert "khai" in a.implied and "khai" not in a.terms
    named = analyze("bố em mất rồi, có phải đi xóa hộ khẩu cho bố không")
    assert tuple(named.terms[named.terms.index("thuong") :][:2]) == ("thuong", "tru") and "khai" in named.implied


def test_a_filler_typed_without_diacritics_stays_when_it_makes_a_record_word():
    paired = {("ban", "sao"), ("the", "bao")}.__contains__
    assert "ban" in analyze("chung thuc ban sao", paired=lambda a, b: paired((a, b))).terms
    assert "the" in analyze("lam the bhyt", paired=lambda a, b: paired((a, b))).terms
    assert "ban" not in analyze("ban oi cho hoi khai tu", paired=lambda a, b: paired((a, b))).terms


def test_aspects_are_kept_apart_from_procedure_words():
    a = analyze("Chứng thực bản sao lệ phí bao nhiêu, mất bao lâu, nộp ở đâu?")
    assert a.terms == ("chung", "thuc", "ban", "sao")
    assert set(a.aspects) == {"fee", "time", "place"}
    assert analyze("có nộp qua mạng được không").aspects == ("online",)
    assert analyze("căn cứ pháp lý của thủ tục này").aspects == ("legal",)


def test_accented_words_do_not_match_other_accented_fillers():
    # 'bạn' is a filler; 'bản' (copy) is not, although both fold to 'ban'.
    assert "ban" in analyze("chứng thực bản sao").terms
    assert "ban" not in analyze("bạn ơi cho hỏi khai tử").terms


def test_negated_clause_is_excluded():
    a = analyze("Đăng ký giám hộ, không phải loại có yếu tố nước ngoài")
    assert "ngoai" in a.excluded and "ngoai" not in a.terms
    assert "giam" in a.terms


def test_old_style_tone_marks_are_restyled_only_at_word_end():
    assert restyle("hoà giải, thuỷ sản, toàn bộ, huỳnh") == "hòa giải, thủy sản, toàn bộ, huỳnh"


def test_fold_chars_keeps_positions():
    from knowledge.text import fold_chars

    text = "Ông Đặng Văn Hùng, SĐT 0912"
    assert fold_chars(text) == "ong dang van hung, sdt 0912"
    assert len(fold_chars(text)) == len(text)
