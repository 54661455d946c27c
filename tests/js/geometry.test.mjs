import assert from "node:assert/strict";
import test from "node:test";

import {
  edgeStyle, lossCurve, networkLayout, tooltipPlace,
} from "../../src/handgrad/serve/static/geometry.mjs";

test("the seed's 2-3-3 network in a 720-pixel drawing", () => {
  const { width, height, xs, pos, dense, radius } = networkLayout([2, 3, 3], 720);
  assert.equal(width, 720);
  assert.equal(height, 310);  // 100 + 3 neurons · 70
  assert.deepEqual(xs, [60, 360, 660]);
  assert.deepEqual(pos[0], [[60, 45], [60, 260]]);
  assert.deepEqual(pos[1], [[360, 45], [360, 152.5], [360, 260]]);
  assert.equal(dense, false);
  assert.equal(radius, 20);
});

test("bounds: narrow screens, one neuron, wide layers", () => {
  assert.equal(networkLayout([2, 3], 200).width, 340);
  assert.equal(networkLayout([2, 3], 0).width, 720);  // not laid out yet
  const single = networkLayout([1, 1], 720);
  assert.equal(single.height, 220);
  assert.deepEqual(single.pos[1], [[660, 110]]);
  const wide = networkLayout([2, 20, 3], 720);
  assert.equal(wide.height, 700);  // 100 + 20 · 30
  assert.ok(wide.dense);
  assert.equal(wide.radius, 9);
});

test("edge strokes by sign and size", () => {
  assert.deepEqual(edgeStyle(2, 4), { stroke: "var(--pos)", width: "3.00", opacity: "0.55" });
  assert.deepEqual(edgeStyle(-4, 4), { stroke: "var(--neg)", width: "5.50", opacity: "0.85" });
  assert.deepEqual(edgeStyle(0, 1e-12), { stroke: "var(--pos)", width: "0.50", opacity: "0.25" });
});

test("the loss curve: highest at the top, last point at the right", () => {
  const { points, hi, lo } = lossCurve([2, 1, 1.5], 600, 140, 34);
  assert.equal(hi, 2);
  assert.equal(lo, 1);
  assert.deepEqual(points, ["34,8", "311,118", "588,63"]);
  assert.deepEqual(lossCurve([1.5]).points, ["34,118"]);  // one loss: flat at the bottom
  assert.deepEqual(lossCurve([]).points, []);
});

test("the tooltip stays inside its figure", () => {
  const figure = { left: 100, top: 50, width: 500 };
  const place = (left, width, bottom) => tooltipPlace(figure, { left, width, bottom });
  assert.deepEqual(place(300, 40, 200), { left: 100, top: 156 });  // centred under the part
  assert.deepEqual(place(100, 10, 60), { left: 0, top: 16 });  // not past the left edge
  assert.deepEqual(place(590, 10, 60), { left: 240, top: 16 });  // nor the right
});
