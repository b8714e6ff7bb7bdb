from core.text import first_line


def test_first_line_is_the_first_non_blank_line_stripped() -> None:
    assert first_line(RuntimeError("\n  Database Error  \nin model x\n")) == "Database Error"
    assert first_line("one\ntwo") == "one"


def test_first_line_of_an_empty_message_is_the_fallback_or_the_type() -> None:
    assert first_line(KeyError()) == "KeyError"
    assert first_line(ValueError(""), "ValueError('')") == "ValueError('')"
    assert first_line("  \n") == ""
