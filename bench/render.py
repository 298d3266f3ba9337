"""A 6-scene, ~60 s render through the real worker against one bare ffmpeg command, in two formats:
16:9 720p plain, and 9:16 1080p with word-by-word captions and ducked background music.

Run: `.venv/bin/python -m bench.render` (or `python bench/render.py`; `--only vertical` for one).
The baseline encodes the same prepared images and narration with one ffmpeg command in the same
run: for the plain format `video.build_command`, the exact command the video step runs; for the
vertical one a single command that also burns in the same ASS captions and loops, ducks
(sidechaincompress) and mixes the same music bed, where the pipeline runs a music step and then
the video step. Goals: pipeline wall time within 1.3x of that command, and a realtime factor
(video seconds / wall seconds, enqueue to succeeded) of 8x or more for the plain format. Uses
Redis DB 12, a temp SQLite database and temp storage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import dataclass
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
from saas_app.services.renders.media import captions, images, music, speech, video
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


@dataclass(frozen=True)
class Scenario:
    """A render's format and extras."""

    name: str
    resolution: str
    aspect: str = "16:9"
    captions: str = "off"
    music: str = "none"
    music_volume: int = 30

    @property
    def title(self) -> str:
        extras = [f"{self.captions} captions"] * (self.captions != "off") + [f"{self.music} music"] * (
            self.music != "none")
        return f"{self.aspect} {self.resolution}" + (f" with {' and '.join(extras)}" if extras else "")


SCENARIOS = [Scenario("plain", "720p"),
             Scenario("vertical", "1080p", aspect="9:16", captions="words", music="calm")]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _render_once(principal, scenario: Scenario) -> dict:  # type: ignore[no-untyped-def]
    request = RenderInput(topic=TOPIC, scenes=[SceneInput(text=t) for t in SCENES], resolution=scenario.resolution,
                          aspect=scenario.aspect, captions=scenario.captions, music=scenario.music,
                          music_volume=scenario.music_volume)
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


def _prepare_inputs(folder: Path, scenario: Scenario) -> tuple[list[str], float, float]:
    """The same narration, images, captions and music bed the pipeline uses, made here by the same
    functions; returns the one ffmpeg command for them, the narration's length and the time taken."""
    start = time.perf_counter()
    scenes, words = [], []
    for i, text in enumerate(SCENES):
        wav = speech.synthesize(text=text, voice="en", out_path=folder / f"scene_{i}.wav")
        png = images.render_scene_image(topic=TOPIC, text=text, index=i, total=len(SCENES), template_id="aurora",
                                        resolution=scenario.resolution, aspect=scenario.aspect,
                                        out_path=folder / f"scene_{i}.png")
        scenes.append(video.Scene(png, wav.path, wav.seconds))
        words.append(list(wav.words))
    out = folder / "out.mp4"
    ass = None
    if scenario.captions != "off":
        cues = captions.build_cues(words, [s.seconds for s in scenes], scenario.aspect)
        ass = folder / "captions.ass"
        ass.write_text(captions.to_ass(cues, style=scenario.captions, resolution=scenario.resolution,
                                       aspect=scenario.aspect), encoding="utf-8")
    command = video.build_command(scenes, out, captions=ass)
    if scenario.music != "none":
        command = _with_ducked_music(command, scenes, music.bed_path(scenario.music), scenario.music_volume / 100)
    return command, sum(s.seconds for s in scenes), time.perf_counter() - start


def _with_ducked_music(command: list[str], scenes: list[video.Scene], bed: Path, volume: float) -> list[str]:
    """The video command, also looping the bed, ducking it under the narration and mixing it in (one command)."""
    graph_at = command.index("-filter_complex") + 1
    graph = command[graph_at].replace("[v][a]", "[v][voice]")
    fmt = f"aformat=sample_rates={music.SAMPLE_RATE}:channel_layouts=mono"
    seconds = sum(s.seconds for s in scenes)
    graph += (f";[voice]asplit[a][key];[{2 * len(scenes)}:a]atrim=0:{seconds:.3f},{fmt},volume={volume:.3f}[bed];"
              f"[key]{fmt}[keyed];[bed][keyed]sidechaincompress=threshold=0.015:ratio=12:attack=15:release=350[m];"
              "[a][m]amix=inputs=2:duration=first:normalize=0[am]")
    inputs_end = graph_at - 1
    head = [*command[:inputs_end], "-stream_loop", "-1", "-i", str(bed)]
    tail = command[graph_at + 1:]
    tail[tail.index("[a]")] = "[am]"
    return [*head, "-filter_complex", graph, *tail]


def _ffmpeg_once(command: list[str], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([*command[:-1], str(out)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _bench(principal, scenario: Scenario, runs: int, worker: _common.Worker) -> None:  # type: ignore[no-untyped-def]
    command, narration, prepare_seconds = _prepare_inputs(TMP / f"baseline-{scenario.name}", scenario)
    results, encodes = [], []
    for i in range(runs):  # alternate, so changing machine load hits both sides alike
        results.append(_render_once(principal, scenario))
        encodes.append(_ffmpeg_once(command, TMP / f"baseline-{scenario.name}" / f"out{i}.mp4"))
    med = {key: _common.median([r[key] for r in results]) for key in results[0]}
    encode = _common.median(encodes)
    extra_steps = [(f"  {name} step", med[name], "") for name in ("captions", "music") if name in med]
    _common.table(f"6 scenes, {scenario.title}, {narration:.1f} s of narration; medians of {runs} runs (seconds)",
                  ["what", "seconds", "vs ffmpeg"],
                  [("ffmpeg alone, same inputs, one command (baseline)", encode, "1.00x"),
                   ("pipeline: enqueue -> succeeded", med["wall"], f"{med['wall'] / encode:.2f}x"),
                   ("  enqueue -> speech started", med["queue"], ""),
                   ("  speech step", med["speech"], ""),
                   ("  images step", med["images"], ""),
                   *extra_steps,
                   ("  video step (ffmpeg + probe + thumbnail)", med["video"], f"{med['video'] / encode:.2f}x"),
                   ("inputs made in-process (speech + images + captions)", prepare_seconds, "")])
    ratio = med["wall"] / encode
    realtime = med["output"] / med["wall"]
    print(f"\n  output video: {med['output']:.2f} s"
          f"   pipeline runs (s): {json.dumps([round(r['wall'], 2) for r in results])}"
          f"   ffmpeg runs (s): {json.dumps([round(e, 2) for e in encodes])}")
    print(f"  pipeline / ffmpeg = {ratio:.2f}x (goal <= {GOAL_RATIO}x): {_common.verdict(ratio <= GOAL_RATIO)}")
    print(f"  realtime factor   = {realtime:.2f}x video seconds per wall second"
          + (f" (goal >= {GOAL_REALTIME:g}x): {_common.verdict(realtime >= GOAL_REALTIME)}"
             if scenario.name == "plain" else ""))
    print(f"  ffmpeg alone      = {narration / encode:.1f}x realtime\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="renders (and baseline encodes) to take the median of")
    parser.add_argument("--only", choices=[s.name for s in SCENARIOS], help="run one scenario")
    args = parser.parse_args()
    _common.prepare_database()
    principal = _common.make_principal(plan="enterprise", name="render")
    worker = _common.Worker(TMP)
    try:
        worker.wait_idle()
        for scenario in SCENARIOS:
            if args.only in (None, scenario.name):
                _bench(principal, scenario, args.runs, worker)
    finally:
        worker.stop()
    print(f"  machine: {_common.machine()}")


if __name__ == "__main__":
    main()
