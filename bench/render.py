"""A 6-scene, ~60 s, 720p render through the real worker against one bare ffmpeg command.

Run: `.venv/bin/python -m bench.render` (or `python bench/render.py`).
The baseline encodes the same prepared images and narration with `video.build_command`, the
exact command the video step runs, in the same run. Goals: pipeline wall time within 1.3x of
that command, and a realtime factor (video seconds / wall seconds, enqueue to succeeded) of 8x
or more. Uses Redis DB 12, a temp SQLite database and temp storage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

try:
    from bench import _common
except ImportError:  # run as a file
    import _common  # type: ignore[no-redef]

# Settings are read once, on first use: point them at this run before importing the app.
TMP = _common.isolate("render", redis_db=12)

from sqlmodel import Session, select

from saas_app.db import get_engine
from saas_app.models import Render, RenderStep
from saas_app.services.account.audit import RequestContext
from saas_app.services.renders import submission as renders
from saas_app.services.renders.input import RenderInput, SceneInput
from saas_app.services.renders.media import images, speech, video
from saas_app.services.renders.status import RenderStatus

TOPIC = "A short history of the honey bee"
SCENES = [
    ("Honey bees have lived alongside flowering plants for more than thirty million years. The flowers feed "
    "the bees, and the bees carry pollen from bloom to bloom, so the two grew up together."),
    ("A colony is one big family. A single queen lays the eggs, while tens of thousands of her daughters "
    "feed the young, clean the cells, build new comb and guard the entrance."),
    ("Foragers dance on the comb when they come home. The angle of the dance points to the flowers, and "
    "its length tells the sisters how far they will have to fly to find them."),
    ("Nectar turns into honey slowly. Bees pass it from mouth to mouth, add enzymes, and fan it with their "
    "wings for days until most of the water has gone and it keeps for years."),
    ("People collected wild honey for at least nine thousand years, long before anyone kept bees in boxes, "
    "baskets or clay pipes, and rock paintings still show those early honey hunters."),
    ("Today bees pollinate about a third of the food we eat, from apples to almonds. A healthy hive is good "
    "news for farmers, for gardens, and for everyone who sits down at the table."),
]
GOAL_RATIO, GOAL_REALTIME = 1.3, 8.0
CTX = RequestContext(ip="127.0.0.1", user_agent="bench", request_id="bench")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _render_once(principal) -> dict:  # type: ignore[no-untyped-def]
    request = RenderInput(topic=TOPIC, scenes=[SceneInput(text=t) for t in SCENES], resolution="720p")
    submitted = datetime.now(UTC)
    with Session(get_engine(), expire_on_commit=False) as s:
        render_id = renders.create_render(session=s, principal=principal, request=request, ctx=CTX).id
    deadline = time.monotonic() + 300
    while True:
        with Session(get_engine()) as s:
            render = s.get(Render, render_id)
            assert render is not None
            if render.status in RenderStatus.TERMINAL:
                steps = {st.name: st for st in s.exec(select(RenderStep).where(RenderStep.render_id == render_id))}
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"render {render_id} did not finish in 300 s")
        time.sleep(0.02)
    if render.status != RenderStatus.SUCCEEDED:
        raise RuntimeError(f"render {render_id} ended {render.status}: {render.error}")
    assert render.finished_at is not None
    result = {"wall": (_utc(render.finished_at) - submitted).total_seconds(), "output": render.duration_seconds,
              "queue": (_utc(steps["speech"].started_at) - submitted).total_seconds()}
    for name, step in steps.items():
        result[name] = (_utc(step.finished_at) - _utc(step.started_at)).total_seconds()
    return result


def _prepare_inputs(folder: Path) -> tuple[list[video.Scene], float]:
    """The same narration and images the pipeline makes, made here by the same functions."""
    start = time.perf_counter()
    scenes = []
    for i, text in enumerate(SCENES):
        wav = speech.synthesize(text=text, voice="en", out_path=folder / f"scene_{i}.wav")
        png = images.render_scene_image(topic=TOPIC, text=text, index=i, total=len(SCENES), template_id="aurora",
                                        resolution="720p", out_path=folder / f"scene_{i}.png")
        scenes.append(video.Scene(png, wav.path, wav.seconds))
    return scenes, time.perf_counter() - start


def _ffmpeg_once(scenes: list[video.Scene], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(video.build_command(scenes, out), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="renders (and baseline encodes) to take the median of")
    args = parser.parse_args()
    _common.prepare_database()
    principal = _common.make_principal(plan="enterprise", name="render")
    scenes, prepare_seconds = _prepare_inputs(TMP / "baseline")
    worker = _common.Worker(TMP)
    runs, encodes = [], []
    try:
        worker.wait_idle()
        for i in range(args.runs):  # alternate, so changing machine load hits both sides alike
            runs.append(_render_once(principal))
            encodes.append(_ffmpeg_once(scenes, TMP / "baseline" / f"out{i}.mp4"))
    finally:
        worker.stop()
    narration = sum(s.seconds for s in scenes)

    med = {key: _common.median([r[key] for r in runs]) for key in runs[0]}
    encode = _common.median(encodes)
    _common.table(f"6 scenes, 720p, {narration:.1f} s of narration; medians of {args.runs} runs (seconds)",
                  ["what", "seconds", "vs ffmpeg"],
                  [("ffmpeg alone, same inputs (baseline)", encode, "1.00x"),
                   ("pipeline: enqueue -> succeeded", med["wall"], f"{med['wall'] / encode:.2f}x"),
                   ("  enqueue -> speech started", med["queue"], ""),
                   ("  speech step", med["speech"], ""),
                   ("  images step", med["images"], ""),
                   ("  video step (ffmpeg + probe + thumbnail)", med["video"], f"{med['video'] / encode:.2f}x"),
                   ("inputs made in-process (speech + images)", prepare_seconds, "")])
    ratio = med["wall"] / encode
    realtime = med["output"] / med["wall"]
    print(f"\n  output video: {med['output']:.2f} s"
          f"   pipeline runs (s): {json.dumps([round(r['wall'], 2) for r in runs])}"
          f"   ffmpeg runs (s): {json.dumps([round(e, 2) for e in encodes])}")
    print(f"  pipeline / ffmpeg = {ratio:.2f}x (goal <= {GOAL_RATIO}x): {_common.verdict(ratio <= GOAL_RATIO)}")
    print(f"  realtime factor   = {realtime:.2f}x video seconds per wall second (goal >= {GOAL_REALTIME:g}x): "
          f"{_common.verdict(realtime >= GOAL_REALTIME)}")
    print(f"  ffmpeg alone      = {narration / encode:.1f}x realtime")
    print(f"  machine: {_common.machine()}")


if __name__ == "__main__":
    main()
