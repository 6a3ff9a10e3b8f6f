from sage_llm.engines.stop_text import StopTextBuffer


def test_text_is_emitted_incrementally_without_a_stop() -> None:
    buf = StopTextBuffer([])
    assert buf.update("Hel") == "Hel"
    assert buf.update("Hello") == "lo"
    assert buf.flush("Hello") == ""


def test_stop_split_over_tokens_is_held_back_then_dropped() -> None:
    buf = StopTextBuffer(["END"])
    assert buf.update("one E") == "one "
    assert buf.update("one EN") == ""
    assert buf.update("one END and more") == ""
    assert buf.stopped


def test_held_prefix_is_released_when_it_stops_matching() -> None:
    buf = StopTextBuffer(["END"])
    assert buf.update("one E") == "one "
    assert buf.update("one Ex") == "Ex"


def test_half_a_multibyte_character_is_held() -> None:
    buf = StopTextBuffer([])
    assert buf.update("caf\ufffd") == "caf"
    assert buf.update("café") == "é"
