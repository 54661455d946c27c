import assert from "node:assert/strict";
import test from "node:test";

import { answer } from "./load.mjs";
import {
  batchSize, depth, inputRow, instanceRow, nodeKey, partSelectors, quantity, weight, weightIndex,
} from "../../src/handgrad/serve/static/quantities.mjs";

const deep = answer("deep_batch");
const seed = answer("homework3_frozen");

test("the batch, and one instance of it", () => {
  assert.equal(batchSize(deep), 3);
  assert.equal(batchSize(seed), 1);
  assert.equal(depth(deep), 3);
  assert.deepEqual(inputRow(deep, 1), [0, 1, -1]);
  assert.deepEqual(inputRow(seed, 0), [0, 2]);
  assert.deepEqual(instanceRow(deep, 0, "h1", "forward"), [1.5, -3, 1, 2]);  // the CLI's h1[0]
  assert.deepEqual(instanceRow(seed, 0, "h1", "forward"), [-13, 2, -5]);
  assert.equal(quantity(seed, "loss", "update").relation, "=");
  assert.equal(quantity(seed, "nothing"), undefined);
});

test("a weight by the edge it draws, in either layout", () => {
  // out_in (deep_batch): W1 is 4 × 3, the edge from input 1 to unit 2 is W1[2][1] = 0
  assert.deepEqual(weightIndex(deep, 0, 1), [1, 0]);
  assert.equal(weight(deep, 1, 0, 3), 2);  // W1[4][1]
  // in_out (the seed): W1 is 2 × 3, the edge from input 2 to unit 1 is W1[2][1] = −5
  assert.deepEqual(weightIndex(seed, 1, 0), [1, 0]);
  assert.equal(weight(seed, 1, 1, 0), -5);
  assert.equal(weight(seed, 1, 1, 1, true), 0.3471484521848418);  // the CLI's dW1[1][1]
});

test("what a click selects, and which parts show a quantity", () => {
  assert.equal(nodeKey(deep, "forward", 0), null);
  assert.equal(nodeKey(deep, "forward", 2), "a2");
  assert.equal(nodeKey(deep, "forward", 3), "yhat");
  assert.equal(nodeKey(deep, "backward", 1), "dh1");
  assert.equal(nodeKey(deep, "backward", 3), "dz");
  assert.deepEqual(partSelectors(deep, "dW2"), ["#net .edge.layer2"]);
  assert.deepEqual(partSelectors(deep, "b1"), ["#net .node.layer1"]);
  assert.deepEqual(partSelectors(deep, "ys"), ["#net .node.layer3"]);
  assert.deepEqual(partSelectors(deep, "losses"), []);
  assert.deepEqual(partSelectors(deep, null), []);
});
