// Runs SDK functions on the inputs of a JSON request (stdin) and prints their outputs (stdout),
// so that tests/unit/serving/test_mirror_sdk.py can hold the JavaScript to exact expectations
// and to the Python contracts (glamcast.core.shades, glamcast.core.events).
import { readFileSync } from "node:fs";
import * as color from "../../../glamcast/serving/static/sdk/color.js";
import * as attributes from "../../../glamcast/serving/static/sdk/attributes.js";
import * as regions from "../../../glamcast/serving/static/sdk/regions.js";
import * as render from "../../../glamcast/serving/static/sdk/render.js";
import * as events from "../../../glamcast/serving/static/sdk/events.js";

const request = JSON.parse(readFileSync(0, "utf8"));
const answers = {};
if (request.rgb) answers.lab = request.rgb.map((rgb) => color.labFromRgb(...rgb));
if (request.lab) answers.rgb = request.lab.map((lab) => color.rgbFromLab(...lab));
if (request.pairs) answers.deltaE = request.pairs.map(([p, q]) => color.deltaE2000(p, q));
if (request.monk) answers.monk = request.monk.map((lab) => attributes.monkTone(lab).value);
if (request.undertone) answers.undertone = request.undertone.map((lab) => attributes.undertone(lab).value);
if (request.undertoneDetail) answers.undertoneDetail = request.undertoneDetail.map((lab) => attributes.undertone(lab));
if (request.monkDetail) answers.monkDetail = request.monkDetail.map((lab) => attributes.monkTone(lab));
if (request.meshes) answers.shapes = request.meshes.map((mesh) => attributes.faceShape(mesh));
if (request.polygons) {
  answers.pixels = request.polygons.map(({ polygon, width, height }) => {
    const inside = [];
    regions.forEachPixelIn(polygon, width, height, (x, y) => inside.push([x, y]));
    return inside;
  });
}
if (request.shadePixel) {
  answers.shadePixel = request.shadePixel.map(({ lab, reference, shade, finish, sparkle }) =>
    render.shadePixel(lab, reference, shade, render.FINISH_STYLE[finish], sparkle));
}
if (request.events) {
  answers.events = request.events.map((spec) => events.tryOnEvent({ ...spec, now: new Date(spec.now) }));
}
if (request.preferences) {
  answers.preferences = request.preferences.map((spec) => events.preferenceEvent({ ...spec, now: new Date(spec.now) }));
  answers.categories = events.CATEGORIES;
}
process.stdout.write(JSON.stringify(answers));
