"""A labeler works in the labeling portal, in Chromium against a real studio: three reviews
classified with the keyboard alone, a box drawn with the mouse on an image, and named
entities marked with the keyboard and the mouse, each answer then read back through the API
as the scientist who runs the jobs.

With SEXTANT_SCREENSHOTS=<folder> the tests also leave portal-home.png, portal-text.png and
portal-boxes.png there (docs/images holds the ones the documentation shows).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

import bench.stack
from tests.live import LiveStudio

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

LABELER, PASSWORD = "lena", "lena-pw-123"
REVIEWS = [
    "Arrived a day early and the battery easily lasts the whole weekend. "
    "Setup took two minutes; I would buy it again without a second thought.",
    "The strap broke after a week and support never answered my emails. Returned it.",
    "It does what the box says. Nothing more, nothing less — fine for the price.",
]
INSTRUCTIONS = """Read the review and choose its **overall sentiment**.

- **positive**: the customer is happy, would recommend it
- **negative**: a complaint, a return, a refund
- **neutral**: facts without a judgement, or mixed feelings

When a review is sarcastic, label what the customer *means*. Skip reviews in a language you
do not read.
"""
CREATE_USER = """
import os
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(
    os.environ["SCRATCH_USER"], password=os.environ["SCRATCH_PASSWORD"]
)
"""
IMAGE_SIZE = (320, 240)
VIDEO_FRAMES = 40
# An emoji first: offsets are in code points, where JavaScript counts it twice.
BIO = "🙂 Ada Lovelace met Charles Babbage in London, and wrote the first program."
SCREENSHOTS = os.environ.get("SEXTANT_SCREENSHOTS", "")


def shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def street_png(i: int) -> bytes:
    """A small street scene: sky, road, a car and a person, placed differently per image."""
    w, h = IMAGE_SIZE
    image = Image.new("RGB", (w, h), (186, 214, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 150, w, h], fill=(96, 102, 112))
    draw.rectangle([0, 146, w, 152], fill=(210, 210, 200))
    for x in range(10, w, 60):
        draw.rectangle([x, 192, x + 30, 196], fill=(236, 236, 220))
    cx = 40 + 30 * i
    draw.rounded_rectangle([cx, 150, cx + 120, 196], radius=10, fill=(200, 60, 50))
    draw.rounded_rectangle([cx + 22, 122, cx + 92, 156], radius=10, fill=(178, 48, 42))
    draw.rectangle([cx + 32, 128, cx + 82, 150], fill=(170, 205, 230))
    for wx in (cx + 22, cx + 92):
        draw.ellipse([wx - 13, 184, wx + 13, 210], fill=(30, 30, 34))
    px = 230 - 20 * i
    draw.ellipse([px, 96, px + 20, 116], fill=(232, 190, 160))
    draw.rectangle([px + 2, 116, px + 18, 152], fill=(48, 92, 170))
    draw.rectangle([px + 3, 152, px + 17, 178], fill=(40, 40, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def upload_dataset(studio: LiveStudio, name: str, filename: str, content: bytes) -> dict[str, Any]:
    """A dataset uploaded to the studio's project, once it is Ready."""
    response = studio.api(
        "POST",
        "/api/v1/datasets/",
        data={"project": studio.project, "name": name},
        files={"file": (filename, content)},
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    studio.wait_job(dataset["ingest_job"], lambda j: j["status"] in ("Completed", "Failed"))
    dataset = studio.api("GET", f"/api/v1/datasets/{dataset['id']}/").json()
    assert dataset["status"] == "Ready", dataset
    return dataset


def create_job(studio: LiveStudio, **spec: Any) -> dict[str, Any]:
    response = studio.api(
        "POST", "/api/v1/labeling-jobs/", json={"project": studio.project, **spec}
    )
    assert response.status_code == 201, response.text
    job = response.json()
    deadline = time.monotonic() + 60
    while job["status"] == "Initializing" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = studio.api("GET", f"/api/v1/labeling-jobs/{job['id']}/").json()
    assert job["status"] == "InProgress", job
    return job


@pytest.fixture(scope="module")
def jobs(studio: LiveStudio) -> dict[str, dict[str, Any]]:
    """A labeler in the studio's project, and two jobs for them: reviews and street images."""
    # A user of no project yet (create_user_token would give them a project of their own).
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_USER],
        env={**studio.env, "SCRATCH_USER": LABELER, "SCRATCH_PASSWORD": PASSWORD},
        cwd=bench.stack.ROOT,
        check=True,
        capture_output=True,
    )
    added = studio.api(
        "POST",
        f"/api/v1/projects/{studio.project}/members/",
        json={"username": LABELER, "role": "labeler"},
    )
    assert added.status_code == 201, added.text
    csv = "id,text\n" + "".join(f'{i},"{text}"\n' for i, text in enumerate(REVIEWS))
    reviews = upload_dataset(studio, "reviews", "reviews.csv", csv.encode())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(3):
            z.writestr(f"street/scene{i}.png", street_png(i))
    streets = upload_dataset(studio, "streets", "streets.zip", archive.getvalue())
    text = create_job(
        studio,
        name="Review sentiment",
        dataset=reviews["id"],
        task_type="text_classification",
        data_column="text",
        labels=["positive", "negative", "neutral"],
        workers_per_item=1,
        instructions=INSTRUCTIONS,
    )
    boxes = create_job(
        studio,
        name="Street objects",
        dataset=streets["id"],
        task_type="bounding_box",
        labels=["car", "person", "bicycle"],
        workers_per_item=1,
        instructions="Draw a tight box around every **car** and **person**.",
    )
    clip = io.BytesIO()
    with zipfile.ZipFile(clip, "w") as z:
        for i in range(VIDEO_FRAMES):  # one folder: one sequence, one task
            z.writestr(f"clip/frame{i:03d}.png", street_png(i % 6))
    frames = upload_dataset(studio, "clip", "clip.zip", clip.getvalue())
    video = create_job(
        studio,
        name="Street tracking",
        dataset=frames["id"],
        task_type="video_tracking",
        labels=["car", "person"],
        workers_per_item=1,
    )
    bios = upload_dataset(studio, "bios", "bios.csv", f'id,text\n0,"{BIO}"\n'.encode())
    entities = create_job(
        studio,
        name="People and places",
        dataset=bios["id"],
        task_type="ner",
        data_column="text",
        labels=["person", "place", "work"],
        workers_per_item=1,
    )
    return {"text": text, "boxes": boxes, "video": video, "ner": entities}


@pytest.fixture
def labeler_page(chromium: Any, studio: LiveStudio, tmp_path: Path) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=studio.url)
    page = context.new_page()
    try:
        page.goto("/login/")
        page.fill("input[name=username]", LABELER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        # A labeler lands in the portal, not in the studio.
        page.wait_for_url(re.compile(r"/portal/$"))
        yield page
    finally:
        page.screenshot(path=str(tmp_path / "last.png"))
        context.close()


def answers(studio: LiveStudio, job_id: int) -> dict[int, list[dict[str, Any]]]:
    rows = studio.api("GET", f"/api/v1/labeling-jobs/{job_id}/labels/").json()["results"]
    return {row["item_id"]: row["annotations"] for row in rows}


def wait_for_task(page: Any, after: int | None = None) -> dict[str, Any]:
    """The task on screen once its editor is up (a different one than ``after``)."""
    page.wait_for_function(
        "after => { const s = window.SextantPortal && window.SextantPortal.state;"
        " return s && s.task && s.editor && !s.busy && s.task.assignment !== after; }",
        arg=after,
    )
    return dict(page.evaluate("window.SextantPortal.state.task"))


def test_a_labeler_classifies_three_reviews_with_the_keyboard_only(
    labeler_page: Any, studio: LiveStudio, jobs: dict[str, Any]
) -> None:
    page = labeler_page
    job = jobs["text"]
    # The portal's home lists the labeler's jobs.
    cards = page.locator("[data-job]")
    assert cards.count() == 4
    assert "Review sentiment" in page.locator(".p-jobs").inner_text()
    shot(page, "portal-home.png")
    page.goto(f"/portal/jobs/{job['id']}/")

    pressed = {}
    assignment = None
    for n, key in enumerate(["1", "2", "3"]):
        task = wait_for_task(page, assignment)
        assignment = task["assignment"]
        assert page.locator(".text-body").inner_text() == task["item"]["data"]["text"]
        page.keyboard.press(key)
        chosen = job["labels"][int(key) - 1]
        assert page.locator(".lbl.is-on").get_attribute("data-label") == chosen
        if n == 0:
            shot(page, "portal-text.png")
        pressed[task["item"]["id"]] = chosen
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"() => document.querySelector('[data-session-count]').textContent === '{n + 1}'"
        )

    done = page.locator("[data-state] h2")
    done.wait_for()
    assert done.inner_text() == "All done — thank you"
    stored = answers(studio, job["id"])
    assert {item: [a["label"] for a in got] for item, got in stored.items()} == {
        item: [label] for item, label in pressed.items()
    }
    assert all(a["worker"] == LABELER for got in stored.values() for a in got)


def screen_point(box: dict[str, float], x: float, y: float) -> tuple[float, float]:
    return (
        box["x"] + x * box["width"] / IMAGE_SIZE[0],
        box["y"] + y * box["height"] / IMAGE_SIZE[1],
    )


def drag(
    page: Any, box: dict[str, float], start: tuple[float, float], end: tuple[float, float]
) -> None:
    page.mouse.move(*screen_point(box, *start))
    page.mouse.down()
    page.mouse.move(*screen_point(box, (start[0] + end[0]) / 2, (start[1] + end[1]) / 2), steps=4)
    page.mouse.move(*screen_point(box, *end), steps=4)
    page.mouse.up()


def test_a_labeler_draws_a_box_with_the_mouse(
    labeler_page: Any, studio: LiveStudio, jobs: dict[str, Any]
) -> None:
    page = labeler_page
    job = jobs["boxes"]
    page.goto(f"/portal/jobs/{job['id']}/")
    task = wait_for_task(page)
    page.locator(".img-wrap:not(.is-loading)").wait_for()
    wrap = page.locator(".img-wrap").bounding_box()
    # Shown bigger than it is: the coordinates must come back in the image's own pixels.
    assert wrap["width"] > IMAGE_SIZE[0] * 1.5

    page.keyboard.press("1")
    drag(page, wrap, (40, 118), (172, 212))
    assert page.locator(".bx").count() == 1
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-session-count]').textContent === '1'"
    )

    [answer] = answers(studio, job["id"])[task["item"]["id"]]
    [stored] = answer["label"]
    assert stored["label"] == "car"
    for key, want in {"x": 40, "y": 118, "w": 132, "h": 94}.items():
        assert abs(stored[key] - want) <= 3, (key, stored)

    # The next scene: two boxes, the second a person (chosen with 2 first).
    following = wait_for_task(page, task["assignment"])
    assert following["item"]["id"] != task["item"]["id"]
    page.locator(".img-wrap:not(.is-loading)").wait_for()
    wrap = page.locator(".img-wrap").bounding_box()
    page.keyboard.press("1")
    drag(page, wrap, (68, 118), (199, 211))
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    drag(page, wrap, (208, 94), (232, 180))
    assert page.locator(".bx").count() == 2
    value = "window.SextantPortal.state.editor.value()"
    assert [b["label"] for b in page.evaluate(value)] == ["car", "person"]
    # The selected person's bottom-right corner handle resizes it; Z takes that back.
    drag(page, wrap, (232, 180), (240, 186))
    person = page.evaluate(value)[1]
    assert abs(person["x"] - 208) <= 2 and abs(person["x"] + person["w"] - 240) <= 2
    page.keyboard.press("z")
    assert abs(page.evaluate(value)[1]["w"] - 24) <= 2
    shot(page, "portal-boxes.png")


def test_a_video_fetches_its_frames_a_little_ahead_of_the_labeler(
    labeler_page: Any, jobs: dict[str, Any]
) -> None:
    page = labeler_page
    fetched: set[int] = set()

    def seen(request: Any) -> None:
        found = re.search(r"[?&]frame=(\d+)", request.url)
        if found:
            fetched.add(int(found.group(1)))

    page.on("request", seen)
    page.goto(f"/portal/jobs/{jobs['video']['id']}/")
    task = wait_for_task(page)
    assert len(task["item"]["data"]["frames"]) == VIDEO_FRAMES
    page.locator(".vid-area .img-wrap:not(.is-loading)").wait_for()
    page.wait_for_timeout(300)
    # The first frames only, not the whole sequence.
    assert 0 in fetched and fetched <= set(range(13)), sorted(fetched)

    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # frame 21 of 40
    deadline = time.monotonic() + 10
    while 32 not in fetched and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert set(range(17, 33)) <= fetched, sorted(fetched)
    assert max(fetched) == 32


def span(label: str, words: str) -> dict[str, Any]:
    """``words``'s place in BIO, in code points (the emoji counts once)."""
    start = BIO.index(words)
    return {"label": label, "start": start, "end": start + len(words)}


def test_a_labeler_marks_entities_with_the_keyboard_and_the_mouse(
    labeler_page: Any, studio: LiveStudio, jobs: dict[str, Any]
) -> None:
    page = labeler_page
    job = jobs["ner"]
    page.goto(f"/portal/jobs/{job['id']}/")
    task = wait_for_task(page)
    value = "window.SextantPortal.state.editor.value()"
    selected = page.locator(".ner .is-kbd")

    # The words are: 🙂 Ada Lovelace met Charles Babbage in London , and wrote …
    page.keyboard.press("ArrowRight")  # the cursor appears on the first word, the emoji
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert "".join(selected.all_inner_texts()) == "Ada Lovelace"
    page.keyboard.press("m")
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("m")
    page.keyboard.press("2")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert selected.inner_text() == "London"
    page.keyboard.press("m")
    assert page.evaluate(value) == [
        span("person", "Ada Lovelace"),
        span("person", "Charles Babbage"),
        span("place", "London"),
    ]

    # Delete removes the span under the cursor; Z brings it back.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # on "Babbage"
    page.keyboard.press("Delete")
    assert [s["label"] for s in page.evaluate(value)] == ["person", "place"]
    page.keyboard.press("z")
    assert len(page.evaluate(value)) == 3

    # With the mouse: choose "work", then select "the first program" by dragging over it.
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    text_box = page.evaluate(
        """() => {
          const seg = [...document.querySelectorAll('.ner .seg')]
            .find(s => s.textContent.includes('the first program'));
          const node = seg.firstChild, at = node.data.indexOf('the first program');
          const r = document.createRange();
          r.setStart(node, at); r.setEnd(node, at + 'the first program'.length);
          const rects = r.getClientRects();
          const a = rects[0], b = rects[rects.length - 1];
          return {x0: a.left + 1, y0: a.top + a.height / 2,
                  x1: b.right - 1, y1: b.top + b.height / 2};
        }"""
    )
    page.mouse.move(text_box["x0"], text_box["y0"])
    page.mouse.down()
    page.mouse.move(text_box["x1"], text_box["y1"], steps=6)
    page.mouse.up()
    marked = page.evaluate(value)
    assert span("work", "the first program") in marked, marked
    page.keyboard.press("End")
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    assert selected.inner_text() == "wrote"
    shot(page, "portal-ner.png")

    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[data-session-count]').textContent === '1'"
    )
    [answer] = answers(studio, job["id"])[task["item"]["id"]]
    assert sorted(answer["label"], key=lambda s: s["start"]) == [
        span("person", "Ada Lovelace"),
        span("person", "Charles Babbage"),
        span("place", "London"),
        span("work", "the first program"),
    ]
