"""Face analysis and look rendering of the mirror SDK, measured in headless Chromium.

Drives the SDK (`glamcast/serving/static/sdk/`, served by the mirror router under uvicorn) in
Debian's Chromium through Playwright; every attribute and every rendered pixel comes from the
SDK's JavaScript, the one implementation. This script only builds the controlled images and
counts.

**The controlled set.** Real face photos from installed packages (scikit-image's `astronaut`,
matplotlib's `grace_hopper`; none is kept in git). For each photo the SDK finds the mesh and the
sclera white balance once; the photo is first balanced with those gains (so that the photo's
own capture, not the SDK, defines "neutral light"), then its skin (the face oval minus eyes,
brows and lips, feathered) is moved to a target colour in linear RGB (each channel scaled by
target / the skin's median: shading and texture kept), then lit:
exposure × 0.7, 1.0, 1.3 and colour temperature 3,000, 4,000, 5,000, 6,500 and 7,500 K
(von Kries gains of the Planckian white against 6,500 K, the brightest channel at 1: the light
dims the others), then clipped to 8 bits. Targets: each of the ten Monk swatches, and each
rotated in hue by -12° (cool), 0° (neutral) and +12° (warm) — the undertone classes the SDK
defines as more than 6° off the Monk swatch of the same depth. 10 × 3 × 15 = 450 images a photo.
Reported: Monk exact and within ±1, overall and per Monk group (the minimum over groups), and
undertone accuracy.

No parameter of the SDK was chosen on this set: the Monk swatches and CIEDE2000 are fixed, the
undertone band is half the set's ±12° by definition, and the sclera and trimming settings were
set before the first run (docs/mirror.md).

**Face shape stability**: the class on each photo against the class after scaling (× 0.6, 0.8,
1.25), rotation (±5°, ±10°) and mirroring: the share that agree.

**Render fidelity**: five lipsticks at full intensity (matte) rendered on each photo; the median
CIELAB of the lip mask's interior (mask ≥ 0.99) against the shade, CIEDE2000 (mean and max).

**Speed**: landmarks + attributes of one 512 px photo (median of 20 after warm-up); render frames
per second of a four-region look on a 640 × 480 frame, the mesh fixed, masks rebuilt every frame.

Prints tables, then as its last line ``RESULT {"monk_exact", "monk_within1",
"monk_within1_min_group", "undertone_acc", "shape_stability", "lip_delta_e", "lip_delta_e_max",
"analyse_ms", "render_fps", "photos", "images", "load"}``. Usage:

    .venv/bin/python bench/face_analysis.py [--photos astronaut,grace_hopper] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import uvicorn
from fastapi import FastAPI
from PIL import Image
from playwright.sync_api import Page, sync_playwright
from rich.console import Console
from rich.table import Table
from scipy.ndimage import gaussian_filter
from skimage import color, data, draw, transform

from glamcast.core.settings import Settings
from glamcast.platform.stack import free_port
from glamcast.serving import mirror

CHROMIUM = "/usr/bin/chromium"
DEV_PHOTOS = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "@vladmandic" / "face-api" / "demo"
MONK = ["#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96", "#a07e56", "#825c43", "#604134",
        "#3a312a", "#292420"]
UNDERTONE_SHIFTS = {"cool": -12.0, "neutral": 0.0, "warm": 12.0}
EXPOSURES = (0.7, 1.0, 1.3)
TEMPERATURES = (3000, 4000, 5000, 6500, 7500)
QUICK_LIGHTS = [(1.0, 6500), (0.7, 6500), (1.3, 6500), (1.0, 3000), (1.0, 7500)]
LIPSTICKS = ("#C0392B", "#E8735A", "#8E2440", "#C98B8B", "#5B2C3A")
LOOK = [  # the four-region look of the speed run
    {"region": "lips", "shade_hex": "#B03A48", "finish": "gloss", "intensity": 0.9},
    {"region": "eyes", "shade_hex": "#8A6F5C", "finish": "shimmer", "intensity": 0.7},
    {"region": "cheeks", "shade_hex": "#F2A48C", "finish": "matte", "intensity": 0.6},
    {"region": "brows", "shade_hex": "#4A3426", "finish": "matte", "intensity": 0.7},
]
# the SDK's mesh numbering (glamcast/serving/static/sdk/regions.js) for the skin mask of the set
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109]
NOT_SKIN = [
    [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7],
    [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249],
    [70, 63, 105, 66, 107, 55, 65, 52, 53, 46],
    [300, 293, 334, 296, 336, 285, 295, 282, 283, 276],
    [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146],
]

console = Console()


# --- the images -----------------------------------------------------------------------------------


def photos() -> dict[str, np.ndarray]:
    """The report set: face photos that ship inside installed packages, as uint8 RGB."""
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {"astronaut": data.astronaut(), "grace_hopper": np.asarray(Image.open(hopper).convert("RGB"))}


def development_photos(page: Page, min_box: int = 110, crop: float = 2.2) -> dict[str, np.ndarray]:
    """The development set: every face of at least `min_box` px in face-api's demo photos
    (web/node_modules, a devDependency), cropped square to `crop` × its box and scaled to 512 px
    (crop 5: faces as small in the frame as the astronaut's)."""
    faces = {}
    for path in sorted(DEV_PHOTOS.glob("sample*.jpg")):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        boxes = page.evaluate("""async (b64) => {
          window.many ||= await sdk.createDetector({ maxFaces: 10 });
          return (await many.detect(await load(b64))).map((face) => face.box);
        }""", png_b64(rgb))
        for k, (x, y, w, h) in enumerate(boxes):
            if min(w, h) < min_box:
                continue
            side = crop * max(w, h)
            cx, cy = x + w / 2, y + h / 2
            left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
            face = Image.fromarray(rgb[top:int(cy + side / 2), left:int(cx + side / 2)])
            faces[f"{path.stem}-{k}"] = np.asarray(face.resize((512, 512), Image.LANCZOS))
    return faces


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    v = rgb.astype(np.float64) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    v = np.clip(linear, 0, 1)
    v = np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.rint(v * 255).astype(np.uint8)


def planck_gains(kelvin: float) -> np.ndarray:
    """Linear-sRGB von Kries gains of a Planckian light against 6,500 K, brightest channel 1."""
    def white(t: float) -> np.ndarray:
        # Kim et al. (2002) cubic fits of the Planckian locus, 1,667–25,000 K
        x = (-3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390) if t >= 4000 \
            else (-0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910)
        if t < 2222:
            y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
        elif t < 4000:
            y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
        else:
            y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
        xyz = np.array([x / y, 1.0, (1 - x - y) / y])
        return np.linalg.solve(np.array([[0.4124564, 0.3575761, 0.1804375],
                                         [0.2126729, 0.7151522, 0.0721750],
                                         [0.0193339, 0.1191920, 0.9503041]]), xyz)
    gains = white(kelvin) / white(6500)
    return gains / gains.max()


def skin_mask(mesh: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The face oval minus eyes, brows and lips (each grown by 3 px), feathered: float 0–1."""
    def fill(indices: list[int]) -> np.ndarray:
        mask = np.zeros(shape, bool)
        rows, cols = draw.polygon(mesh[indices, 1], mesh[indices, 0], shape)
        mask[rows, cols] = True
        return mask
    keep = fill(FACE_OVAL)
    for part in NOT_SKIN:
        keep &= gaussian_filter(fill(part).astype(float), 2) < 0.05
    return gaussian_filter(keep.astype(float), 1.5)


def target_linear(swatch: str, hue_shift: float) -> np.ndarray:
    """The linear RGB of a swatch whose hue is turned by `hue_shift` degrees."""
    rgb = np.array([[[int(swatch[i:i + 2], 16) for i in (1, 3, 5)]]], np.uint8)
    lab = color.rgb2lab(rgb)[0, 0]
    chroma, hue = np.hypot(lab[1], lab[2]), np.arctan2(lab[2], lab[1]) + np.radians(hue_shift)
    turned = np.array([lab[0], chroma * np.cos(hue), chroma * np.sin(hue)])
    return srgb_to_linear(np.clip(color.lab2rgb(turned[None, None]), 0, 1)[0, 0] * 255)


def moved_skin(base_linear: np.ndarray, mask: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The skin's reflectance replaced: each channel scaled by target / the skin's median."""
    core = mask > 0.95
    median = np.median(base_linear[core], axis=0)
    recoloured = base_linear * (target / np.maximum(median, 1e-4))
    return base_linear + (recoloured - base_linear) * mask[..., None]


def png_b64(rgb: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode()


# --- the browser ------------------------------------------------------------------------------------


@contextmanager
def sdk_page() -> Iterator[Page]:
    """A Chromium page on the origin of an app that serves only the mirror router."""
    app = FastAPI()
    app.state.settings = Settings()
    app.include_router(mirror.router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/mirror/assets/mirror.css")
            page.evaluate("""async () => {
              window.sdk = await import('/sdk/mirror.js');
              window.mirror = await sdk.createMirror();
              window.load = async (b64) => {
                const blob = await (await fetch('data:image/png;base64,' + b64)).blob();
                const bitmap = await createImageBitmap(blob);
                const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
                const ctx = canvas.getContext('2d', { willReadFrequently: true });
                ctx.drawImage(bitmap, 0, 0);
                return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
              };
            }""")
            yield page
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)


ANALYSE = """async (b64) => {
  const face = await mirror.analyse(await load(b64));
  if (!face) return null;
  const a = face.attributes;
  return { mesh: face.mesh, gains: a.gains, monk: a.skinTone.value, undertone: a.undertone.value,
           shape: a.faceShape.value, ratios: a.faceShape.ratios, lab: a.skin.lab, sclera: a.sclera };
}"""

LIP_FIDELITY = """async ([b64, shades]) => {
  const pixels = await load(b64);
  const face = await mirror.analyse(pixels);
  const canvas = new OffscreenCanvas(pixels.width, pixels.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const { bounds, alpha } = sdk.regionMask(face.mesh, 'lips', pixels.width, pixels.height);
  return shades.map((shade) => {
    ctx.putImageData(pixels, 0, 0);
    sdk.renderLook(ctx, face.mesh, [{ region: 'lips', shade_hex: shade, finish: 'matte', intensity: 1 }]);
    const out = ctx.getImageData(bounds.x, bounds.y, bounds.width, bounds.height).data;
    const labs = [];
    for (let i = 0; i < alpha.length; i++) {
      if (alpha[i] >= 0.99) labs.push(sdk.labFromRgb(out[4 * i], out[4 * i + 1], out[4 * i + 2]));
    }
    const median = [0, 1, 2].map((c) => { const v = labs.map((l) => l[c]).sort((p, q) => p - q); return v[v.length >> 1]; });
    return { shade, pixels: labs.length, deltaE: sdk.deltaE2000(median, sdk.labFromHex(shade)) };
  });
}"""

SPEED = """async ([b64, frameB64, look]) => {
  const photo = await load(b64);
  for (let i = 0; i < 3; i++) await mirror.analyse(photo);
  const times = [];
  for (let i = 0; i < 20; i++) { const t = performance.now(); await mirror.analyse(photo); times.push(performance.now() - t); }
  times.sort((p, q) => p - q);
  const frame = await load(frameB64);
  const face = await mirror.analyse(frame);
  const canvas = new OffscreenCanvas(frame.width, frame.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let frames = 0; const start = performance.now();
  while (performance.now() - start < 3000) {
    ctx.putImageData(frame, 0, 0);
    sdk.renderLook(ctx, face.mesh, look);
    frames += 1;
  }
  return { analyseMs: times[10], renderFps: frames / ((performance.now() - start) / 1000),
           width: frame.width, height: frame.height };
}"""


def analyse(page: Page, rgb: np.ndarray) -> dict | None:
    return page.evaluate(ANALYSE, png_b64(rgb))


# --- the runs ---------------------------------------------------------------------------------------


def monk_set(page: Page, name: str, rgb: np.ndarray, quick: bool) -> list[dict]:
    """Every target × light of one photo: one row per image."""
    base = analyse(page, rgb)
    assert base is not None, f"no face found on {name}"
    mesh = np.asarray(base["mesh"], float)
    balanced = srgb_to_linear(rgb) * np.asarray(base["gains"])  # the photo's neutral light
    mask = skin_mask(mesh, rgb.shape[:2])
    rows = []
    lights = QUICK_LIGHTS if quick else [(e, k) for e in EXPOSURES for k in TEMPERATURES]
    for monk, swatch in enumerate(MONK, start=1):
        for undertone, shift in UNDERTONE_SHIFTS.items():
            target = target_linear(swatch, shift)
            target_lab = color.rgb2lab(linear_to_srgb8(target)[None, None])[0, 0]
            skin = moved_skin(balanced, mask, target)
            for exposure, kelvin in lights:
                lit = linear_to_srgb8(skin * exposure * planck_gains(kelvin))
                found = analyse(page, lit)
                rows.append({"photo": name, "monk": monk, "undertone": undertone,
                             "exposure": exposure, "kelvin": kelvin,
                             "found": found is not None,
                             "pred_monk": found["monk"] if found else None,
                             "pred_undertone": found["undertone"] if found else None,
                             "sclera": found["sclera"] if found else None,
                             "error_lab": (np.asarray(found["lab"]) - target_lab).tolist()
                             if found else None})
    console.print(f"  {name}: {len(rows)} images")
    return rows


def shape_stability(page: Page, name: str, rgb: np.ndarray) -> list[dict]:
    reference = analyse(page, rgb)
    variants = {
        "scale 0.6": transform.rescale(rgb, 0.6, channel_axis=2),
        "scale 0.8": transform.rescale(rgb, 0.8, channel_axis=2),
        "scale 1.25": transform.rescale(rgb, 1.25, channel_axis=2),
        "rotate -10": transform.rotate(rgb, -10, mode="edge"),
        "rotate -5": transform.rotate(rgb, -5, mode="edge"),
        "rotate 5": transform.rotate(rgb, 5, mode="edge"),
        "rotate 10": transform.rotate(rgb, 10, mode="edge"),
        "mirror": rgb[:, ::-1],
    }
    rows = []
    for variant, image in variants.items():
        image = image if image.dtype == np.uint8 else np.rint(image * 255).astype(np.uint8)
        found = analyse(page, np.ascontiguousarray(image))
        rows.append({"photo": name, "variant": variant, "reference": reference["shape"],
                     "shape": found["shape"] if found else None,
                     "ratio_change": max(abs(found["ratios"][k] - reference["ratios"][k])
                                         for k in reference["ratios"]) if found else None})
    return rows


def frame_640x480(rgb: np.ndarray) -> np.ndarray:
    """The photo scaled to 480 rows and centred on a 640 × 480 frame (edges repeated)."""
    scaled = np.rint(transform.resize(rgb, (480, round(rgb.shape[1] * 480 / rgb.shape[0])),
                                      anti_aliasing=True) * 255).astype(np.uint8)
    pad = 640 - scaled.shape[1]
    return np.pad(scaled, ((0, 0), (pad // 2, pad - pad // 2), (0, 0)), mode="edge")


def exact(row: dict) -> bool:
    return row["pred_monk"] == row["monk"]


def within1(row: dict) -> bool:
    return row["pred_monk"] is not None and abs(row["pred_monk"] - row["monk"]) <= 1


def undertone_hit(row: dict) -> bool:
    return row["pred_undertone"] == row["undertone"]


def rate(rows: list[dict], hit) -> float:
    return round(sum(1 for row in rows if hit(row)) / max(1, len(rows)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default="astronaut,grace_hopper")
    parser.add_argument("--development", action="store_true",
                        help="run on the development set (face-api's demo faces) instead")
    parser.add_argument("--quick", action="store_true",
                        help="five lights only (neutral, ±30 %% exposure, 3,000 K, 7,500 K)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos")
    parser.add_argument("--dev-crop", type=float, default=2.2,
                        help="development faces cropped to this many times their box")
    parser.add_argument("--sdk-config", default="{}",
                        help="JSON merged into the SDK's ATTRIBUTE_CONFIG (choose on --development)")
    args = parser.parse_args()
    started = time.monotonic()
    with sdk_page() as page:
        page.evaluate("(config) => Object.assign(sdk.ATTRIBUTE_CONFIG, config)", json.loads(args.sdk_config))
        if args.development:
            chosen = development_photos(page, crop=args.dev_crop)
        else:
            chosen = {name: image for name, image in photos().items() if name in args.photos.split(",")}
        if args.limit:
            chosen = dict(list(chosen.items())[:args.limit])
        rows, shapes, lips = [], [], []
        for name, rgb in chosen.items():
            console.print(f"{name}: the Monk and undertone set …")
            rows += monk_set(page, name, rgb, args.quick)
            shapes += shape_stability(page, name, rgb)
            lips += [{"photo": name, **row} for row in page.evaluate(LIP_FIDELITY, [png_b64(rgb), list(LIPSTICKS)])]
        astronaut = data.astronaut()
        speed = page.evaluate(SPEED, [png_b64(astronaut), png_b64(frame_640x480(astronaut)), LOOK])

    by_group: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_group[row["monk"]].append(row)
    table = Table(title=f"Monk tone on the controlled set ({len(rows)} images)")
    for column in ("Monk", "images", "found", "exact", "within ±1", "undertone"):
        table.add_column(column, justify="right")
    for monk, group in sorted(by_group.items()):
        table.add_row(str(monk), str(len(group)), str(rate(group, lambda r: r["found"])),
                      str(rate(group, exact)), str(rate(group, within1)),
                      str(rate(group, undertone_hit)))
    console.print(table)
    lights = Table(title="within ±1 by light (exposure × K) and by photo")
    lights.add_column("condition")
    lights.add_column("within ±1", justify="right")
    lights.add_column("undertone", justify="right")
    lights.add_column("median error L*, a*, b*", justify="right")
    conditions: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        conditions[f"×{row['exposure']} {row['kelvin']} K"].append(row)
        conditions[f"photo {row['photo']}"].append(row)
    for condition, group in conditions.items():
        errors = np.array([r["error_lab"] for r in group if r["error_lab"] is not None])
        lights.add_row(condition, str(rate(group, within1)),
                       str(rate(group, undertone_hit)),
                       " ".join(f"{v:+.1f}" for v in np.median(errors, axis=0)) if len(errors) else "–")
    console.print(lights)
    shape_table = Table(title="Face shape under scaling, rotation and mirroring")
    for column in ("photo", "variant", "reference", "shape", "max ratio change"):
        shape_table.add_column(column)
    for row in shapes:
        shape_table.add_row(row["photo"], row["variant"], row["reference"], str(row["shape"]),
                            f"{row['ratio_change']:.3f}" if row["ratio_change"] is not None else "–")
    console.print(shape_table)
    lip_table = Table(title="Lipstick at full intensity: CIEDE2000 of the lip median to the shade")
    for column in ("photo", "shade", "lip pixels", "ΔE00"):
        lip_table.add_column(column)
    for row in lips:
        lip_table.add_row(row["photo"], row["shade"], str(row["pixels"]), f"{row['deltaE']:.2f}")
    console.print(lip_table)
    neutral = defaultdict(list)
    for row in rows:
        if row["exposure"] == 1.0 and row["kelvin"] == 6500 and row["sclera"] is not None:
            neutral[row["photo"]].append(row["sclera"])
    console.print("sclera luminance at neutral light: " + ", ".join(
        f"{photo} {np.median(values):.3f}" for photo, values in neutral.items()))
    load = os.getloadavg()[0]
    console.print(f"analyse {speed['analyseMs']:.0f} ms per 512 px photo; render "
                  f"{speed['renderFps']:.1f} fps at {speed['width']}×{speed['height']}; "
                  f"load average {load:.1f} on {os.cpu_count()} cores; {time.monotonic() - started:.0f} s")
    result = {
        "monk_exact": rate(rows, exact),
        "monk_within1": rate(rows, within1),
        "monk_within1_min_group": min(rate(group, within1) for group in by_group.values()),
        "undertone_acc": rate(rows, undertone_hit),
        "shape_stability": rate(shapes, lambda r: r["shape"] == r["reference"]),
        "lip_delta_e": round(float(np.mean([row["deltaE"] for row in lips])), 2),
        "lip_delta_e_max": round(float(np.max([row["deltaE"] for row in lips])), 2),
        "analyse_ms": round(speed["analyseMs"], 1),
        "render_fps": round(speed["renderFps"], 1),
        "photos": list(chosen),
        "images": len(rows),
        "load": round(load, 2),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
