"""The makeup-transfer inversion of the mirror SDK (static/sdk/transfer.js) under Node.js.

A synthetic face patch: skin as a plane of sRGB codes per face side (light falling across the
face), a feathered lid mask per side, and a product mixed in exactly as the renderer mixes it
(observed = skin + (product - skin) x mask x intensity x the lids' opacity cap 0.7). The fit of
`fitSkinUnder` (observed = S(x, y) + mask x D(x, y)) must find the skin under the product, and
the shade unmixed at full intensity must be the product, within rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from testkit import node_probe

from glamcast.core.shades import delta_e_2000, lab_from_rgb

PROBE = Path(__file__).with_name("transfer_probe.mjs")


def probe(request: dict) -> dict:
    return node_probe(PROBE, request)


@pytest.mark.parametrize("product", [[62, 92, 118], [201, 162, 126], [138, 111, 92]])
def test_the_skin_under_a_feathered_product_and_its_full_intensity_shade_are_recovered(product) -> None:
    # the two sides lit differently, each with its own gradient
    skin = [[[222, 12, -6], [181, 10, -5], [160, 9, -4]], [[196, -15, 8], [150, -12, 6], [128, -10, 5]]]
    answer = probe({"width": 160, "height": 80, "sigma": 9, "skin": skin, "product": product, "intensity": 1})
    assert answer["pixels"] > 200
    for got, true in zip(answer["skinUnder"], answer["skinTrue"], strict=True):
        assert got == pytest.approx(true, abs=1.0)  # codes: the rounding of the mixed pixels
    assert float(delta_e_2000(np.asarray(answer["shadeLab"]), np.asarray(answer["productLab"]))) < 0.6


def test_a_sheer_product_is_read_as_its_full_intensity_equivalent() -> None:
    """Intensity is not identifiable: at intensity 0.5 the extraction (assuming 1) returns the
    colour halfway from the skin to the product, the one that re-rendered at 1 looks the same."""
    skin = [[[200, 0, 0], [160, 0, 0], [140, 0, 0]], [[200, 0, 0], [160, 0, 0], [140, 0, 0]]]
    product = [90, 60, 110]
    answer = probe({"width": 160, "height": 80, "sigma": 9, "skin": skin, "product": product, "intensity": 0.5})
    half = [(s[0] + p) / 2 for s, p in zip(skin[0], product, strict=True)]
    expected = lab_from_rgb(np.asarray([half]))[0]
    assert float(delta_e_2000(np.asarray(answer["shadeLab"]), expected)) < 0.8


def test_skin_inside_a_moved_lip_mask_is_left_out_of_the_shade_by_its_hue() -> None:
    """`shadeOf`: lipstick pixels carry the shade's a*b* exactly (a highlight only scales them
    towards 0); skin pixels that a moved mask lets in lie off that hue. With a hue tolerance the
    median is the lipstick's own; without, a third of skin pulls it lighter and duller."""
    lipstick = [40.7, 52.1, 22.1]
    rng = np.random.default_rng(0)
    rows = [[lipstick[0] + float(d), lipstick[1] * (1 - lift), lipstick[2] * (1 - lift), 0, True, 1.0]
            for d, lift in zip(rng.normal(0, 4, 140), rng.uniform(0, 0.05, 140), strict=True)]
    rows += [[float(v), 14.0 + float(e), 16.0, 0, True, 1.0]
             for v, e in zip(rng.uniform(60, 80, 70), rng.normal(0, 1, 70), strict=True)]
    answer = probe({"shadeOf": {"rows": rows, "tolerance": 8}})
    assert float(delta_e_2000(np.asarray(answer["plain"]), np.asarray(lipstick))) > 2.5
    assert float(delta_e_2000(np.asarray(answer["onHue"]), np.asarray(lipstick))) < 0.8
