import assert from "node:assert/strict";
import test from "node:test";

import {
  edited, hasLabels, layoutChanged, lossKindChanged, number, parseLabels, parseLayers, resize,
  structuralChanges,
} from "../../src/handgrad/serve/static/edits.mjs";

test("typed numbers and layer sizes", () => {
  assert.equal(number(" -2.5 "), -2.5);
  assert.throws(() => number(""), /'' is not a number/);
  assert.throws(() => number("1e999"), /is not a number/);
  assert.deepEqual(parseLayers("2, 3,3"), [2, 3, 3]);
  assert.throws(() => parseLayers("2"), /positive integer sizes/);
  assert.throws(() => parseLayers("2,0,3"), /positive integer sizes/);
  assert.throws(() => parseLayers("2,1.5"), /positive integer sizes/);
  assert.deepEqual(parseLabels("0,1,1", [0, 0, 0]), [0, 1, 1]);
  assert.equal(parseLabels("2", 0), 2);
  assert.deepEqual(parseLabels("2", [0]), [2]);
});

test("an edit changes a copy", () => {
  const doc = { params: { W1: [[1, 2]] }, network: { layout: "in_out" } };
  const changed = edited(doc, ["network", "layout"], "out_in", layoutChanged);
  assert.deepEqual(changed, { network: { layout: "out_in" } });
  assert.deepEqual(doc.params, { W1: [[1, 2]] });
});

test("resizing fits x and one-hot y, and drops the parameters for the server to draw", () => {
  const doc = { network: { layers: [3, 4, 2] }, params: { W1: [] },
    data: { x: [0, 2], y: [0.1, 0.8, 0.1] } };
  resize(doc);
  assert.deepEqual(doc, { network: { layers: [3, 4, 2] }, data: { x: [0, 2, 0], y: [0, 1] } });
  const batch = { network: { layers: [1, 3] },
    data: { x: [[1, 2], [3, 4]], y: [[0, 0, 1, 0], [1, 0, 0, 0]] } };
  resize(batch);
  assert.deepEqual(batch.data, { x: [[1], [3]], y: [[0, 0, 1], [1, 0, 0]] });
});

test("resizing keeps class labels, within the classes left", () => {
  const doc = { network: { layers: [3, 4, 2] }, data: { x: [[1, 0, 2]], label: [0, 3, 1] } };
  assert.ok(hasLabels(doc));
  resize(doc);
  assert.deepEqual(doc.data, { x: [[1, 0, 2]], label: [0, 1, 1] });
  assert.ok(!hasLabels({ data: { label: null, y: [1] } }));
});

test("the network's shape buttons change the last hidden layer", () => {
  const doc = () => ({ network: { layers: [2, 3, 3] } });
  const apply = (change) => { const d = doc(); change(d); return d.network.layers; };
  assert.deepEqual(apply(structuralChanges.addLayer), [2, 3, 3, 3]);
  assert.deepEqual(apply(structuralChanges.removeLayer), [2, 3]);
  assert.deepEqual(apply(structuralChanges.addUnit), [2, 4, 3]);
  assert.deepEqual(apply(structuralChanges.removeUnit), [2, 2, 3]);
  const flat = { network: { layers: [2, 3] } };
  structuralChanges.removeLayer(flat);
  assert.deepEqual(flat.network.layers, [2, 3]);
});

test("squared error resets the smoothing settings", () => {
  const doc = { loss: { kind: "squared_error", label_smoothing: 0.3, smoothing: "others" } };
  lossKindChanged(doc);
  assert.deepEqual(doc.loss, { kind: "squared_error", label_smoothing: 0, smoothing: "uniform" });
  const kept = { loss: { kind: "cross_entropy", label_smoothing: 0.3, smoothing: "others" } };
  lossKindChanged(kept);
  assert.equal(kept.loss.label_smoothing, 0.3);
});
