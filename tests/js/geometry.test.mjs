import assert from "node:assert/strict";
import test from "node:test";

import {
  boxInCircle, chordWidth, edgeStyle, lossCurve, networkLayout, tooltipPlace,
} from "../../src/handgrad/serve/static/geometry.mjs";

test("the seed's 2-3-3 network in a 720-pixel drawing", () => {
  const { width, height, xs, pos, dense, radius, underWidth } = networkLayout([2, 3, 3], 720);
  assert.equal(width, 720);
  // circles of radius 32 (a name over a 6-digit value), 90 apart: 62 + 2 · 90 + 58
  assert.equal(height, 300);
  assert.deepEqual(xs, [60, 360, 660]);
  assert.deepEqual(pos[0], [[60, 62], [60, 242]]);
  assert.deepEqual(pos[1], [[360, 62], [360, 152], [360, 242]]);
  assert.equal(dense, false);
  assert.equal(radius, 32);
  assert.equal(underWidth, 110);
  // neighbours do not touch, and the label under a circle (14 px lower) sits between them
  assert.ok(pos[1][1][1] - pos[1][0][1] >= 2 * radius + 24);
});

test("bounds: narrow screens, one neuron, wide layers", () => {
  assert.equal(networkLayout([2, 3], 200).width, 340);
  assert.equal(networkLayout([2, 3], 0).width, 720);  // not laid out yet
  const single = networkLayout([1, 1], 720);
  assert.equal(single.height, 220);
  assert.deepEqual(single.pos[1], [[660, 110]]);
  const wide = networkLayout([2, 20, 3], 720);
  assert.equal(wide.height, 639);  // 39 + 30 + 19 · 30
  assert.ok(wide.dense);
  assert.equal(wide.radius, 9);
  // a deep network on a phone: the label under a circle keeps off the next layer's
  assert.equal(networkLayout([2, 4, 4, 4, 3], 344).underWidth, 48);
});

test("a label's box in a circle: every corner inside, and the chord it may fill", () => {
  assert.ok(boxInCircle({ x: -10, y: -5, width: 20, height: 10 }, 0, 0, 12));
  // 24 wide at heights 0..14 reaches (12, 14), 18.4 from the centre: out of a circle of 18
  assert.ok(!boxInCircle({ x: -12, y: 0, width: 24, height: 14 }, 0, 0, 18));
  assert.ok(!boxInCircle({ x: 100, y: 100, width: 1, height: 1 }, 0, 0, 18));
  assert.equal(chordWidth(5, 0, -3, 1), 8);  // the farther edge, 3 from the centre: 2·4
  assert.equal(chordWidth(5, 10, 10, 16), 0);  // past the circle
});

test("edge strokes by sign and size", () => {
  assert.deepEqual(edgeStyle(2, 4), { stroke: "var(--pos)", width: "3.00", opacity: "0.55" });
  assert.deepEqual(edgeStyle(-4, 4), { stroke: "var(--neg)", width: "5.50", opacity: "0.85" });
  assert.deepEqual(edgeStyle(0, 1e-12), { stroke: "var(--pos)", width: "0.50", opacity: "0.25" });
});

test("the loss curve: highest at the top, last point at the right", () => {
  const { points, hi, lo, ticks } = lossCurve([2, 1, 1.5], 600, 140, 34);
  assert.equal(hi, 2);
  assert.equal(lo, 1);
  assert.deepEqual(points, ["34,8", "311,118", "588,63"]);
  assert.deepEqual(ticks, [{ text: "2", y: 8 }, { text: "1", y: 118 }]);
  assert.deepEqual(lossCurve([]).points, []);
});

test("a flat loss curve runs through the middle with one label, not two the same", () => {
  // before any step: the one loss, labelled once (the page showed "1.527" at both ends)
  const one = lossCurve([1.5265626412674704], 600, 140, 34, (v) => v.toPrecision(4));
  assert.deepEqual(one.points, ["34,63"]);
  assert.deepEqual(one.ticks, [{ text: "1.527", y: 63 }]);
  // losses that differ below the digits shown read the same: still one label
  assert.equal(lossCurve([1.5, 1.5 + 1e-12], 600, 140, 34, (v) => v.toFixed(3)).ticks.length,
    1);
  assert.equal(lossCurve([1.5, 1.4], 600, 140, 34, (v) => v.toFixed(3)).ticks.length, 2);
});

test("the tooltip stays inside its figure", () => {
  const figure = { left: 100, top: 50, width: 500 };
  const place = (left, width, bottom) => tooltipPlace(figure, { left, width, bottom });
  assert.deepEqual(place(300, 40, 200), { left: 100, top: 156 });  // centred under the part
  assert.deepEqual(place(100, 10, 60), { left: 0, top: 16 });  // not past the left edge
  assert.deepEqual(place(590, 10, 60), { left: 240, top: 16 });  // nor the right
});
