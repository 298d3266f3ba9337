"""What a render request may contain, and an estimate that covers what the render really uses."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from factories import render_payload
from pydantic import ValidationError

from saas_app.services.core.validation import clean_text
from saas_app.services.renders.input import CHOICES, RenderInput, estimate_usage
from saas_app.services.renders.media.images import DEFAULT_TEMPLATE, RESOLUTIONS, TEMPLATES
from saas_app.services.renders.media.speech import DEFAULT_VOICE, VOICES, synthesize


def _errors(**overrides: object) -> dict[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        RenderInput(**render_payload(**overrides))
    return {tuple(e["loc"]): e["msg"] for e in caught.value.errors()}


def _scene(text: str = "Hello.", **extra: object) -> dict:
    return {"text": text, **extra}


def test_a_minimal_request_gets_defaults() -> None:
    request = RenderInput(topic="Cats", scenes=[{"text": "Cats purr."}])
    assert (request.template, request.voice, request.resolution) == (DEFAULT_TEMPLATE, DEFAULT_VOICE, "720p")
    assert request.scenes[0].narration is None


@pytest.mark.parametrize("topic", ["x", "t" * 120, "  padded topic  "])
def test_topics_of_1_to_120_characters_are_accepted(topic: str) -> None:
    assert RenderInput(**render_payload(topic=topic)).topic == topic.strip()


@pytest.mark.parametrize("topic", ["", "   ", "t" * 121])
def test_topics_empty_or_over_120_are_refused(topic: str) -> None:
    assert ("topic",) in _errors(topic=topic)


@pytest.mark.parametrize("count", [1, 20])
def test_1_to_20_scenes_are_accepted(count: int) -> None:
    assert len(RenderInput(**render_payload(scenes=count)).scenes) == count


@pytest.mark.parametrize("scenes", [[], [_scene()] * 21])
def test_no_scenes_or_more_than_20_are_refused(scenes: list) -> None:
    assert ("scenes",) in _errors(scenes=scenes)


def test_scene_text_is_1_to_300_characters() -> None:
    assert RenderInput(**render_payload(scenes=[_scene("a" * 300)])).scenes[0].text == "a" * 300
    for text in ("", "   ", "a" * 301):
        assert ("scenes", 0, "text") in _errors(scenes=[_scene(text)])
    assert ("scenes", 1, "text") in _errors(scenes=[_scene(), {"narration": "only narration"}])


def test_narration_is_optional_up_to_1000_characters_and_defaults_to_the_text() -> None:
    request = RenderInput(**render_payload(scenes=[_scene("On screen", narration="n" * 1000), _scene("Said aloud"),
                                                   _scene("Blank narration", narration="")]))
    assert [s.spoken for s in request.scenes] == ["n" * 1000, "Said aloud", "Blank narration"]
    assert ("scenes", 0, "narration") in _errors(scenes=[_scene(narration="n" * 1001)])


def test_an_unknown_template_is_refused_naming_the_choices() -> None:
    errors = _errors(template="glitter")
    assert list(errors) == [("template",)]
    message = errors[("template",)]
    assert "unknown template" in message
    assert all(template_id in message for template_id in TEMPLATES)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_known_template_is_accepted(template: str) -> None:
    assert RenderInput(**render_payload(template=template)).template == template


@pytest.mark.parametrize("field", ["template", "voice", "resolution"])
@pytest.mark.parametrize("value", [None, "", "../../etc/passwd", "x" * 40, 3, ["en"]], ids=repr)
def test_every_choice_is_checked_against_its_registry_naming_the_allowed_values(field: str, value: object) -> None:
    errors = _errors(**{field: value})
    assert list(errors) == [(field,)]
    assert f"unknown {field}; choose one of: {', '.join(CHOICES[field])}" in errors[(field,)]


@pytest.mark.parametrize("resolution", ["4k", "480p", "", "720P"])
def test_only_720p_and_1080p_are_offered(resolution: str) -> None:
    assert ("resolution",) in _errors(resolution=resolution)
    assert CHOICES["resolution"] == tuple(RESOLUTIONS) == ("720p", "1080p")


@pytest.mark.parametrize("field", ["template", "voice", "resolution"])
def test_every_allowed_choice_is_accepted_and_listed_in_the_schema(field: str) -> None:
    for value in CHOICES[field]:
        assert getattr(RenderInput(**render_payload(**{field: value})), field) == value
    assert RenderInput.model_json_schema()["properties"][field]["enum"] == list(CHOICES[field])


# Text: control characters and invisible text are refused in every text field


INVISIBLE = ["\u200b", " \u200b\u200c\u200d\u2060 ", "\ufeff", "\u3164", "\u2800", "\u00a0\u2003\u3000", "\u202e\u2066"]
CONTROLS = ["a\x00b", "\x00", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x85next"]


@pytest.mark.parametrize("text", INVISIBLE, ids=repr)
@pytest.mark.parametrize("where", ["topic", "text"])
def test_text_with_nothing_visible_is_refused(text: str, where: str) -> None:
    overrides = {"topic": text} if where == "topic" else {"scenes": [_scene(text)]}
    loc = ("topic",) if where == "topic" else ("scenes", 0, "text")
    errors = _errors(**overrides)
    # Whitespace alone is stripped first (then "at least 1 character"); the rest is caught as invisible.
    assert loc in errors and ("no visible characters" in errors[loc] or text.isspace()), errors


@pytest.mark.parametrize("text", CONTROLS, ids=repr)
@pytest.mark.parametrize("where", ["topic", "text", "narration"])
def test_control_characters_are_refused_in_every_text_field(text: str, where: str) -> None:
    overrides = {"topic": text} if where == "topic" else {"scenes": [_scene(text) if where == "text"
                                                                     else _scene(narration=text)]}
    loc = {"topic": ("topic",), "text": ("scenes", 0, "text"), "narration": ("scenes", 0, "narration")}[where]
    errors = _errors(**overrides)
    assert loc in errors and "control character" in errors[loc], errors


def test_a_lone_surrogate_is_refused() -> None:
    assert ("topic",) in _errors(topic="lone\ud800")
    with pytest.raises(ValueError, match="control character"):
        clean_text("lone\ud800")


@pytest.mark.parametrize("text", ["Line one\nline two", "tab\tseparated", "家族 👨\u200d👩\u200d👧", "क्षत्रिय",
                                  "e\u0301 is é", "مرحبا"])
def test_visible_text_with_line_breaks_joiners_and_any_script_is_accepted(text: str) -> None:
    request = RenderInput(**render_payload(topic=text[:120], scenes=[_scene(text, narration=text)]))
    assert request.topic == unicodedata.normalize("NFC", text)
    assert request.scenes[0].spoken == unicodedata.normalize("NFC", text)


def test_an_invisible_narration_means_none() -> None:
    assert RenderInput(**render_payload(scenes=[_scene("Shown", narration=" ")])).scenes[0].spoken == "Shown"


def test_extra_fields_are_refused_at_every_level() -> None:
    assert ("price",) in _errors(price=0)
    assert ("scenes", 0, "duration") in _errors(scenes=[_scene(duration=99)])


# The estimate


def test_the_estimate_charges_one_image_per_scene() -> None:
    for count in (1, 7, 20):
        assert estimate_usage(RenderInput(**render_payload(scenes=count)))["images_count"] == count


def test_the_estimate_grows_with_the_narration() -> None:
    estimates = [estimate_usage(RenderInput(**render_payload(scenes=[_scene("Same text", narration="word " * n)])))
                 for n in (1, 20, 100, 199)]
    speech = [e["tts_seconds"] for e in estimates]
    assert speech == sorted(speech) and len(set(speech)) == len(speech)
    minutes = [e["render_minutes"] for e in estimates]
    assert minutes == sorted(minutes) and minutes[-1] > minutes[0]
    for e in estimates:
        assert e["render_minutes"] >= e["tts_seconds"] / 60  # never less than the narration lasts
        assert e["storage_mb"] > 0


def test_the_estimate_uses_the_narration_when_given_and_the_text_otherwise() -> None:
    short_text_long_narration = RenderInput(**render_payload(scenes=[_scene("Hi", narration="h" * 500)]))
    long_text = RenderInput(**render_payload(scenes=[_scene("h" * 300)]))
    assert estimate_usage(short_text_long_narration)["tts_seconds"] > estimate_usage(long_text)["tts_seconds"]


def test_1080p_is_estimated_to_need_more_storage() -> None:
    scenes = [_scene("A scene about tides and the moon.")] * 3
    small = estimate_usage(RenderInput(**render_payload(scenes=scenes)))
    large = estimate_usage(RenderInput(**render_payload(scenes=scenes, resolution="1080p")))
    assert large["storage_mb"] > small["storage_mb"]
    assert {k: v for k, v in large.items() if k != "storage_mb"} == {
        k: v for k, v in small.items() if k != "storage_mb"}


PLAIN_TEXTS = [
    "Hi.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.",
    "The quick brown fox jumps over the lazy dog. " * 6,
    "Rivers carve valleys slowly; glaciers carve them faster, leaving wide U-shaped floors behind. " * 10,
]
# Figures, prices, dates and symbols are spoken as whole words ("two thousand and twenty-four").
FIGURE_TEXTS = [
    "In 2024, revenue grew 15% to $3.2M.",
    "Call 555-0100 today.",
    "$1,234,567.89 on 12/31/2025 at 11:59pm",
    "Thanks! 🙂🙂🙂",
]


@pytest.mark.parametrize(("text", "voice"), [*((t, v) for t in PLAIN_TEXTS for v in ("en", "de")),
                                             *((t, "en") for t in FIGURE_TEXTS)],
                         ids=lambda x: x[:24])
def test_the_estimate_covers_the_real_narration(text: str, voice: str, tmp_path: Path) -> None:
    request = RenderInput(**render_payload(scenes=[_scene("On screen", narration=text[:1000])], voice=voice))
    real = synthesize(text=request.scenes[0].spoken, voice=voice, out_path=tmp_path / "scene.wav").seconds
    estimate = estimate_usage(request)
    assert estimate["tts_seconds"] >= real, f"reserved {estimate['tts_seconds']} s, spoke {real:.2f} s"
    assert estimate["render_minutes"] * 60 >= real


def test_the_estimate_covers_a_multi_scene_render(tmp_path: Path) -> None:
    request = RenderInput(**render_payload(scenes=[_scene(t[:300]) for t in PLAIN_TEXTS]))
    real = sum(synthesize(text=s.spoken, voice="en", out_path=tmp_path / f"{i}.wav").seconds
               for i, s in enumerate(request.scenes))
    assert estimate_usage(request)["tts_seconds"] >= real


# Scripts other than Latin: read out by espeak-ng in every offered voice, often letter by letter.
SCRIPT_TEXTS = {
    "chinese-1000": "我们的世界充满了美丽的风景和有趣的故事每一天都是新的开始" * 36,
    "japanese": "こんにちはせかいカタカナひらがなにほんごのテキストです" * 10,
    "arabic": "مرحبا بالعالم هذا نص عربي للاختبار " * 10,
    "devanagari": "नमस्ते दुनिया यह हिंदी पाठ है क्षत्रिय " * 10,
    "digits": "1234567890 9876543210 " * 10,
    "emoji": "😀🎉🚀🌍🐝🍕👨‍👩‍👧" * 10,
}


@pytest.mark.parametrize("voice", sorted(VOICES))
@pytest.mark.parametrize("script", sorted(SCRIPT_TEXTS))
def test_the_estimate_covers_every_script_in_every_voice(script: str, voice: str, tmp_path: Path) -> None:
    text = SCRIPT_TEXTS[script][:1000]
    request = RenderInput(**render_payload(scenes=[_scene("On screen", narration=text)], voice=voice))
    real = synthesize(text=request.scenes[0].spoken, voice=voice, out_path=tmp_path / "scene.wav").seconds
    estimate = estimate_usage(request)
    assert estimate["tts_seconds"] >= real, f"reserved {estimate['tts_seconds']} s, spoke {real:.2f} s"
    assert estimate["render_minutes"] * 60 >= real
