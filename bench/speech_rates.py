"""Speaking time per character of espeak-ng, per script and voice, against the speech step's estimate.

Run: `.venv/bin/python -m bench.speech_rates`. Prints, for each script sample and each offered
voice, the real seconds per character and the estimate's; the estimate must never be the lower
(`tests/unit/services/renders/test_render_input.py` checks the same samples). The figures behind
the per-character bounds in `saas_app/services/renders/steps/speech.py` come from this script.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from saas_app.services.renders.input import RenderInput, SceneInput, estimate_usage
from saas_app.services.renders.media.speech import VOICES, synthesize

SAMPLES = {
    "latin": "The quick brown fox jumps over the lazy dog. " * 4,
    "han": "我们的世界充满了美丽的风景和有趣的故事每一天都是新的开始" * 4,
    "kana": "こんにちはせかいカタカナひらがなにほんごのテキストです" * 4,
    "hangul": "안녕하세요 세계 한국어 텍스트입니다" * 4,
    "arabic": "مرحبا بالعالم هذا نص عربي للاختبار " * 4,
    "hebrew": "שלום עולם זה טקסט בעברית " * 4,
    "devanagari": "नमस्ते दुनिया यह हिंदी पाठ है क्षत्रिय " * 4,
    "cyrillic": "Привет мир это русский текст " * 4,
    "thai": "สวัสดีชาวโลกนี่คือข้อความภาษาไทย" * 4,
    "digits": "1234567890 9876543210 " * 6,
    "emoji": "😀🎉🚀🌍🐝🍕👨‍👩‍👧" * 6,
}


def main() -> None:
    """Print seconds per character: real (per voice) and estimated."""
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'sample':12} {'chars':>5} {'estimate':>8}  worst voice: s/char")
        for name, text in SAMPLES.items():
            chars = sum(1 for c in text if not c.isspace())
            request = RenderInput(topic="bench", scenes=[SceneInput(text="bench", narration=text[:1000])])
            estimate = estimate_usage(request)["tts_seconds"] / chars
            real = {v: synthesize(text=text[:1000], voice=v, out_path=Path(tmp) / "s.wav").seconds / chars
                    for v in VOICES}
            worst = max(real, key=lambda v: real[v])
            print(f"{name:12} {chars:5d} {estimate:8.3f}  {worst}: {real[worst]:.3f}"
                  f"{'  << UNDER' if real[worst] > estimate else ''}")


if __name__ == "__main__":
    main()
