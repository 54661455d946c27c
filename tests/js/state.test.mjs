import assert from "node:assert/strict";
import test from "node:test";

import {
  canonical, clone, createState, decodeState, encodeState, exampleOf, fragmentState, pickerChoice,
  setPath,
} from "../../src/handgrad/serve/static/state.mjs";

test("the URL fragment reads what the server's encode_state writes", () => {
  // python: encode_state({"a": "é"}) (json.dumps escapes é as \u00e9)
  assert.deepEqual(decodeState("eyJhIjoiXHUwMGU5In0"), { a: "é" });
});

test("a document survives the URL fragment, Unicode and all", () => {
  const doc = { title: "ε, η and ŷ", network: { layers: [2, 3, 3] },
    params: { W1: [[-5, 0.1]] } };
  const encoded = encodeState(doc);
  assert.match(encoded, /^[A-Za-z0-9_-]+$/);  // base64url without padding: safe in a URL
  assert.equal(fragmentState(`#p=${encoded}`), encoded);
  assert.deepEqual(decodeState(encoded), doc);
});

test("a fragment without a problem", () => {
  assert.equal(fragmentState(""), null);
  assert.equal(fragmentState("#p="), null);
  assert.equal(fragmentState("#p=abc def"), null);
});

test("one state object, fresh each time", () => {
  const a = createState();
  a.generation += 1;
  assert.equal(createState().generation, 0);
  assert.equal(a.view, "forward");
});

test("setPath makes the tables on its way; clone copies deeply", () => {
  const doc = { data: { x: [1, 2] } };
  const copy = clone(doc);
  setPath(copy, ["data", "x", 1], 5);
  setPath(copy, ["loss", "label_smoothing"], 0.1);
  assert.deepEqual(copy, { data: { x: [1, 5] }, loss: { label_smoothing: 0.1 } });
  assert.deepEqual(doc, { data: { x: [1, 2] } });
});

test("the example picker shows the example loaded, until it is edited or stepped", () => {
  const seed = { title: "Homework 3, Problem 2", network: { layers: [2, 3, 3] } };
  const examples = [{ title: seed.title, problem: seed },
    { title: "Two hidden layers", problem: { network: { layers: [3, 4, 3, 2] } } }];
  // the start problem is the seed, keys in another order: it is the first example
  assert.equal(exampleOf(examples, { network: { layers: [2, 3, 3] }, title: seed.title }), 0);
  assert.equal(exampleOf(examples, { network: { layers: [2, 3] } }), null);
  assert.equal(canonical({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  // solved, the seed's document has its defaults filled in: that is what is compared after
  const solved = { ...seed, loss: { reduction: "mean" } };
  const origin = { index: 0, label: "", doc: canonical(solved) };
  assert.deepEqual(pickerChoice(origin, examples, solved),
    { value: "0", label: "Homework 3, Problem 2" });  // not "choose…"
  const stepped = { ...solved, params: { W1: [[1]] } };
  assert.deepEqual(pickerChoice(origin, examples, stepped),
    { value: "", label: "Homework 3, Problem 2 (edited or stepped)" });
  assert.deepEqual(pickerChoice({ index: null, label: "problem from the link", doc: "{}" },
    examples, solved), { value: "", label: "problem from the link" });
  assert.equal(createState().origin, null);
});
