"""Makeup transfer of the mirror SDK, measured in headless Chromium: a known look rendered on a
face photo, extracted back, re-rendered, and carried from one face to another and matched to
products.

Drives the SDK (`static/sdk/transfer.js`, `render.js`) in Debian's Chromium through Playwright,
on the same page set-up as bench/face_analysis.py (its `sdk_page`, photos and development faces):
every rendered and every extracted number comes from the SDK's JavaScript.

**What is measurable.** The renderer mixes, per pixel, observed = (1 − w)·skin + w·made with
w = mask × intensity × the region's opacity cap, `made` carrying the shade. From one photo only
intensity × (shade − skin) is identifiable: a sheer deep shade and a dense pale one give the
same pixels. So the bench measures three things, each on the looks where it is defined:

- **shade** (`*_delta_e`, the issue's targets): CIEDE2000 between the applied and the extracted
  shade on looks rendered at **full intensity** (the face-analysis bench's lip test does the
  same), where the shade is identified;
- **appearance** (`appearance_*_delta_e`): looks at a random intensity (lips 0.75–1, eyes and
  cheeks 0.6–1, brows 0.6–0.9); the extracted look re-rendered on the same bare photo (its own
  mesh) against the original rendering: the mean per-pixel CIEDE2000 over the region's pixels
  (mask ≥ 0.5): what a person sees after a transfer;
- **intensity** (`intensity_error`): mean |applied − extracted| on those random-intensity looks
  (the SDK reports the full-intensity equivalent, 1, so this is the cost of not knowing it).

Finish accuracy (`finish_acc`) is on the full-intensity looks; `finish_acc_random` on the others.

**Hold-out.** `--calibrate` (seed 0, the two photo faces, full-intensity looks) is the only run
any setting was chosen on: it prints the finish prototypes (`FINISH_PROTOTYPES` of transfer.js)
and the development figures. The report run (default: seeds 1 2 3; the astronaut, Grace Hopper
and the first `--dev-faces` face-api demo faces) never feeds back; RESULT says so (`tuned_on`).

Per seed and face, `--looks` random looks: per region a shade from a palette of real product
colours of its category, one of the five finishes, an intensity. Each look is rendered on the
photo with the mesh found on the bare photo; the made-up photo is analysed again (the mesh found
anew, as on a reference photo) and the look extracted. The reference in the same run: the
region's plain median colour (no skin unmixing) as the shade, "matte" as the finish, intensity 1.

**Transfer.** The astronaut's extracted look drawn on Grace Hopper, extracted from there again
(CIEDE2000 to the applied shade after two hops; full intensity), and matched to products of a
simulated catalogue (glamcast.simulator `make_catalog`, seed 0) by
`glamcast.serving.looks.match_look`, the code behind `POST /v1/looks/match`.

Prints tables, then as its last line ``RESULT {"lips_delta_e", "eyes_delta_e", "cheeks_delta_e",
"brows_delta_e", "finish_acc", "appearance_*", "intensity_error", "baseline_*", "transfer_*",
"tuned_on", "seeds", ...}``. Targets: lips ≤ 3, other regions ≤ 5, finish accuracy ≥ 0.8. Usage:

    .venv/bin/python bench/look_transfer.py [--seeds 1 2 3] [--looks 5] [--dev-faces 2]
    .venv/bin/python bench/look_transfer.py --calibrate [--looks 12]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import face_analysis as fa  # the sibling bench's page set-up and photos

from glamcast.core.shades import delta_e_2000, hex_to_lab

console = Console()
REGIONS = ("lips", "eyes", "cheeks", "brows")
FINISHES = ("matte", "satin", "gloss", "shimmer", "metallic")
PALETTES = {  # colours of real products of each region's category (sRGB)
    "lips": ("#B0303F", "#E8735A", "#8E2440", "#C98B8B", "#5B2C3A", "#D4626E", "#A0522D", "#C0392B",
             "#7B3F61", "#E09A8C"),
    "eyes": ("#8A6F5C", "#5E4B8B", "#C9A27E", "#3E5C76", "#7A5230", "#A86E8A", "#4F6F52", "#B08D57",
             "#6B4E71", "#9C7C6B"),
    "cheeks": ("#F2A48C", "#E07A7A", "#D98695", "#C7785B", "#F0B7A4", "#B86B5E", "#E89A84", "#CC7A8B"),
    "brows": ("#4A3426", "#6B4F3A", "#2E2420", "#8B6B4F", "#3B2F2F", "#5A4636"),
}
INTENSITY = {"lips": (0.75, 1.0), "eyes": (0.6, 1.0), "cheeks": (0.6, 1.0), "brows": (0.6, 0.9)}
TUNED_ON = "seed 0; astronaut, grace_hopper; full-intensity looks (--calibrate)"

ROUND_TRIP = """async ([b64, looks]) => {
  const photo = await load(b64);
  const bare = await mirror.analyse(photo);
  if (!bare) return null;
  const canvas = new OffscreenCanvas(photo.width, photo.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const draw = (look) => { ctx.putImageData(photo, 0, 0); sdk.renderLook(ctx, bare.mesh, look); return ctx.getImageData(0, 0, photo.width, photo.height); };
  // appearance: per region, the mean per-pixel CIEDE2000 between two renderings (mask >= 0.5, bare mesh)
  const masks = Object.fromEntries(sdk.REGIONS.map((r) => [r, sdk.regionMask(bare.mesh, r, photo.width, photo.height)]));
  const appearance = (one, two) => Object.fromEntries(sdk.REGIONS.map((region) => {
    const { bounds, alpha } = masks[region];
    let sum = 0, n = 0;
    for (let i = 0; i < alpha.length; i++) {
      if (alpha[i] < 0.5) continue;
      const j = 4 * ((bounds.y + Math.floor(i / bounds.width)) * photo.width + bounds.x + (i % bounds.width));
      sum += sdk.deltaE2000(sdk.labFromRgb(one.data[j], one.data[j + 1], one.data[j + 2]), sdk.labFromRgb(two.data[j], two.data[j + 1], two.data[j + 2]));
      n += 1;
    }
    return [region, n ? sum / n : null];
  }));
  const out = [];
  for (const entry of looks) {
    const made = draw(entry.look);
    const face = await mirror.analyse(made);
    if (!face) { out.push(null); continue; }
    const extracted = sdk.extractLook(made, face.mesh, { details: true });
    // the reference: each region's plain median colour (mask >= 0.8 x its peak), no skin unmixing
    const plain = sdk.REGIONS.map((region) => {
      const { bounds, alpha } = sdk.regionMask(face.mesh, region, made.width, made.height);
      const labs = [];
      const peak = Math.max(...alpha);
      for (let i = 0; i < alpha.length; i++) {
        if (alpha[i] < 0.8 * peak) continue;
        const x = bounds.x + (i % bounds.width), y = bounds.y + Math.floor(i / bounds.width);
        const j = 4 * (y * made.width + x);
        labs.push(sdk.labFromRgb(made.data[j], made.data[j + 1], made.data[j + 2]));
      }
      const med = [0, 1, 2].map((c) => { const v = labs.map((l) => l[c]).sort((p, q) => p - q); return v[v.length >> 1]; });
      return { region, lab: med, shade_hex: sdk.hexFromRgb(sdk.rgbFromLab(...med)), finish: 'matte', intensity: 1 };
    });
    const result = { extracted: extracted.map(({ details, ...item }) => ({ ...item, features: details.features })),
                     plain: plain.map(({ region, lab }) => ({ region, lab })) };
    if (entry.appearance) {
      result.appearance = appearance(made, draw(extracted));
      result.baselineAppearance = appearance(made, draw(plain));
    }
    out.push(result);
  }
  return out;
}"""

TRANSFER = """async ([fromB64, toB64, look]) => {
  const from = await load(fromB64), to = await load(toB64);
  const a = await mirror.analyse(from), b = await mirror.analyse(to);
  const canvas = new OffscreenCanvas(from.width, from.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.putImageData(from, 0, 0);
  sdk.renderLook(ctx, a.mesh, look);
  const made = ctx.getImageData(0, 0, from.width, from.height);
  const reference = await mirror.analyse(made);
  const extracted = sdk.extractLook(made, reference.mesh);
  const canvas2 = new OffscreenCanvas(to.width, to.height);
  const ctx2 = canvas2.getContext('2d', { willReadFrequently: true });
  ctx2.putImageData(to, 0, 0);
  sdk.renderLook(ctx2, b.mesh, extracted);
  const onB = ctx2.getImageData(0, 0, to.width, to.height);
  const again = await mirror.analyse(onB);
  return { extracted, again: sdk.extractLook(onB, again.mesh) };
}"""


def random_look(rng: np.random.Generator) -> list[dict]:
    return [{"region": region, "shade_hex": str(rng.choice(PALETTES[region])),
             "finish": str(rng.choice(FINISHES)),
             "intensity": round(float(rng.uniform(*INTENSITY[region])), 2)} for region in REGIONS]


def de(lab1: list[float], lab2: list[float]) -> float:
    return float(delta_e_2000(np.asarray(lab1, float), np.asarray(lab2, float)))


def round_trips(page, faces: dict, encoded: dict, seeds: list[int], looks: int, random_set: bool) -> list[dict]:
    """Every (seed, face, look, set, region) row: set "full" (intensity 1) and, with
    `random_set`, "random" (the look's own intensity, with appearance)."""
    rows: list[dict] = []
    jobs = [(seed, name) for seed in seeds for name in faces]
    for seed, name in track(jobs, description="round trips", console=console):
        rng = np.random.default_rng([seed, sorted(faces).index(name)])
        drawn = [random_look(rng) for _ in range(looks)]
        entries = [{"set": "full", "look": [{**item, "intensity": 1.0} for item in look], "appearance": False}
                   for look in drawn]
        if random_set:
            entries += [{"set": "random", "look": look, "appearance": True} for look in drawn]
        results = page.evaluate(ROUND_TRIP, [encoded[name], [{k: e[k] for k in ("look", "appearance")} for e in entries]])
        assert results is not None, f"no face found on {name}"
        for index, (entry, result) in enumerate(zip(entries, results, strict=True)):
            base = {"seed": seed, "face": name, "look": index % looks, "set": entry["set"]}
            if result is None:
                rows.append({**base, "lost": True})
                continue
            got = {item["region"]: item for item in result["extracted"]}
            plain = {item["region"]: item["lab"] for item in result["plain"]}
            for applied in entry["look"]:
                region = applied["region"]
                item = got.get(region)
                truth = hex_to_lab(applied["shade_hex"])
                rows.append({
                    **base, "region": region, "applied": applied, "extracted": item,
                    "features": item["features"] if item else None,
                    "delta_e": de(item["lab"], truth) if item else float("nan"),
                    "finish_ok": bool(item and item["finish"] == applied["finish"]),
                    "intensity_error": abs(item["intensity"] - applied["intensity"]) if item else float("nan"),
                    "baseline_delta_e": de(plain[region], truth),
                    "baseline_finish_ok": applied["finish"] == "matte",
                    "baseline_intensity_error": abs(1 - applied["intensity"]),
                    "appearance": (result.get("appearance") or {}).get(region),
                    "baseline_appearance": (result.get("baselineAppearance") or {}).get(region),
                })
    return rows


def calibrate(frame) -> dict:
    """The finish prototypes: per region the mean and spread of each feature (its
    standardisation), then per finish the mean standardised feature vector over every region,
    and per feature the pooled within-finish spread (`scale`)."""
    features = np.array(frame["features"].tolist(), float)
    finishes = frame["applied"].map(lambda a: a["finish"]).to_numpy()
    regions = frame["region"].to_numpy()
    standardise = {}
    z = features.copy()
    for region in REGIONS:
        mask = regions == region
        mean, std = features[mask].mean(axis=0), np.maximum(features[mask].std(axis=0), 1e-3)
        standardise[region] = {"mean": [round(float(v), 4) for v in mean], "std": [round(float(v), 4) for v in std]}
        z[mask] = (features[mask] - mean) / std
    prototypes = {"standardise": standardise}
    prototypes.update({f: [round(float(v), 3) for v in z[finishes == f].mean(axis=0)] for f in FINISHES})
    within = np.concatenate([z[finishes == f] - z[finishes == f].mean(axis=0) for f in FINISHES])
    prototypes["scale"] = [round(float(v), 3) for v in np.maximum(within.std(axis=0), 1e-3)]
    return prototypes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--looks", type=int, default=5, help="looks per face and seed")
    parser.add_argument("--dev-faces", type=int, default=2, help="face-api demo faces besides the two photos")
    parser.add_argument("--calibrate", action="store_true",
                        help="the development run: seed 0, the two photos, full intensity; prints FINISH_PROTOTYPES")
    parser.add_argument("--dump", type=Path, help="write every row as JSON here")
    parser.add_argument("--sdk-config", default="{}", help="JSON merged into the SDK's TRANSFER_CONFIG")
    args = parser.parse_args()
    seeds = args.seeds or ([0] if args.calibrate else [1, 2, 3])
    started = time.monotonic()
    import pandas as pd

    with fa.sdk_page() as page:
        page.evaluate("(config) => Object.assign(sdk.TRANSFER_CONFIG, config)", json.loads(args.sdk_config))
        faces = fa.photos()
        if args.dev_faces and not args.calibrate:
            faces.update(dict(list(fa.development_photos(page).items())[: args.dev_faces]))
        encoded = {name: fa.png_b64(rgb) for name, rgb in faces.items()}
        rows = round_trips(page, faces, encoded, seeds, args.looks, random_set=not args.calibrate)
        if args.dump:
            args.dump.write_text(json.dumps(rows, indent=1))
        frame_all = pd.DataFrame([row for row in rows if not row.get("lost")])
        if args.calibrate:
            full = frame_all[frame_all["set"] == "full"]
            console.print(full.groupby("region")[["delta_e", "baseline_delta_e", "finish_ok"]].mean().round(3).to_string())
            prototypes = calibrate(full)
            console.print("FINISH_PROTOTYPES = " + json.dumps(prototypes))
            confusion = pd.crosstab(full["applied"].map(lambda a: a["finish"]), full["extracted"].map(lambda e: e["finish"]))
            console.print(confusion.to_string())
            print("RESULT " + json.dumps({"calibrate": True, "prototypes": prototypes, "seeds": seeds,
                                           "finish_acc": round(float(full["finish_ok"].mean()), 3)}))
            return
        # transfer: the astronaut's look (full intensity) on Grace Hopper, then matched to products
        rng = np.random.default_rng(99)
        look = [{**item, "intensity": 1.0} for item in random_look(rng)]
        transfer = page.evaluate(TRANSFER, [encoded["astronaut"], encoded["grace_hopper"], look])

    from glamcast.serving.looks import LookToMatch, match_look
    from glamcast.simulator.catalog import make_catalog
    from glamcast.simulator.config import SimulationConfig

    catalog = make_catalog(SimulationConfig(), np.random.default_rng(0))
    asked = LookToMatch(items=[{key: item[key] for key in ("region", "shade_hex", "finish", "intensity")}
                               for item in transfer["extracted"]], k=1)
    matched = match_look(pd.DataFrame(catalog), asked)

    lost = sum(1 for row in rows if row.get("lost"))
    full = frame_all[frame_all["set"] == "full"]
    rand = frame_all[frame_all["set"] == "random"]
    table = Table(title=f"Full intensity: applied vs extracted shade ({len(full) // 4} looks, {len(faces)} faces, seeds {seeds})")
    for column in ("region", "ΔE00 mean", "ΔE00 p90", "reference ΔE00", "finish acc", "reference finish", "target"):
        table.add_column(column)
    targets = {"lips": 3.0, "eyes": 5.0, "cheeks": 5.0, "brows": 5.0}
    result: dict = {}
    for region in REGIONS:
        part = full[full["region"] == region]
        result[f"{region}_delta_e"] = round(float(part["delta_e"].mean()), 2)
        result[f"baseline_{region}_delta_e"] = round(float(part["baseline_delta_e"].mean()), 2)
        result[f"{region}_finish_acc"] = round(float(part["finish_ok"].mean()), 3)
        table.add_row(region, f"{part['delta_e'].mean():.2f}", f"{part['delta_e'].quantile(0.9):.2f}",
                      f"{part['baseline_delta_e'].mean():.2f}", f"{part['finish_ok'].mean():.2f}",
                      f"{part['baseline_finish_ok'].mean():.2f}", f"≤ {targets[region]:g}")
    console.print(table)
    table = Table(title=f"Random intensity: appearance (re-rendered vs original, mean per-pixel ΔE00) ({len(rand) // 4} looks)")
    for column in ("region", "appearance ΔE00", "reference appearance", "shade ΔE00 (not identifiable)",
                   "|intensity err|", "reference |err|", "finish acc"):
        table.add_column(column)
    for region in REGIONS:
        part = rand[rand["region"] == region]
        result[f"appearance_{region}_delta_e"] = round(float(part["appearance"].mean()), 2)
        result[f"baseline_appearance_{region}_delta_e"] = round(float(part["baseline_appearance"].mean()), 2)
        result[f"random_{region}_delta_e"] = round(float(part["delta_e"].mean()), 2)
        table.add_row(region, f"{part['appearance'].mean():.2f}", f"{part['baseline_appearance'].mean():.2f}",
                      f"{part['delta_e'].mean():.2f}", f"{part['intensity_error'].mean():.3f}",
                      f"{part['baseline_intensity_error'].mean():.3f}", f"{part['finish_ok'].mean():.2f}")
    console.print(table)
    seeds_table = Table(title="Per seed, full intensity (mean ΔE00 lips / eyes / cheeks / brows, finish accuracy)")
    for column in ("seed", "lips", "eyes", "cheeks", "brows", "finish acc"):
        seeds_table.add_column(column)
    for seed, part in full.groupby("seed"):
        means = part.groupby("region")["delta_e"].mean()
        seeds_table.add_row(str(seed), *(f"{means[r]:.2f}" for r in REGIONS), f"{part['finish_ok'].mean():.2f}")
    console.print(seeds_table)
    confusion = pd.crosstab(full["applied"].map(lambda a: a["finish"]), full["extracted"].map(lambda e: e["finish"] if e else None))
    console.print("Finish confusion, full intensity (rows applied, columns extracted):")
    console.print(confusion.to_string())
    per_face = full.groupby(["face", "region"])["delta_e"].mean().unstack()[list(REGIONS)].round(2)
    console.print("Mean ΔE00 per face (full intensity):")
    console.print(per_face.to_string())

    hop = Table(title="Transfer astronaut → Grace Hopper → products (full intensity; simulated catalogue, seed 0)")
    for column in ("region", "applied", "extracted (astronaut)", "after 2 hops ΔE00", "product", "product ΔE00", "price"):
        hop.add_column(column)
    again = {item["region"]: item for item in transfer["again"]}
    by_region = {entry["region"]: entry for entry in matched["regions"]}
    hops = defaultdict(float)
    for applied, item in zip(look, transfer["extracted"], strict=False):
        region = applied["region"]
        hops[region] = de(again[region]["lab"], hex_to_lab(applied["shade_hex"]))
        product = (by_region[item["region"]]["products"] or [{}])[0]
        hop.add_row(region, f"{applied['shade_hex']} {applied['finish']} {applied['intensity']}",
                    f"{item['shade_hex']} {item['finish']} {item['intensity']}", f"{hops[region]:.2f}",
                    f"{product.get('brand')} {product.get('name')} {product.get('shade_hex')}",
                    f"{product.get('delta_e')}", f"{product.get('price')}")
    console.print(hop)
    load = os.getloadavg()[0]
    result.update({
        "finish_acc": round(float(full["finish_ok"].mean()), 3),
        "baseline_finish_acc": round(float(full["baseline_finish_ok"].mean()), 3),
        "finish_acc_random": round(float(rand["finish_ok"].mean()), 3),
        "intensity_error": round(float(rand["intensity_error"].mean()), 3),
        "baseline_intensity_error": round(float(rand["baseline_intensity_error"].mean()), 3),
        **{f"transfer_{region}_delta_e": round(hops[region], 2) for region in REGIONS},
        "transfer_product_delta_e": round(float(np.mean([
            (entry["products"] or [{"delta_e": np.nan}])[0]["delta_e"] for entry in matched["regions"]])), 2),
        "looks": int(len(full) // 4), "lost": lost, "faces": len(faces), "seeds": seeds, "tuned_on": TUNED_ON,
        "seconds": round(time.monotonic() - started), "load": round(load, 2),
    })
    met = (result["lips_delta_e"] <= 3 and all(result[f"{r}_delta_e"] <= 5 for r in ("eyes", "cheeks"))
           and result["finish_acc"] >= 0.8)
    console.print(f"targets (full intensity: lips ≤ 3, eyes and cheeks ≤ 5, finish ≥ 0.8): {'met' if met else 'MISSED'}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
