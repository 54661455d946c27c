import assert from "node:assert/strict";
import test from "node:test";

import {
  clone, createState, decodeState, encodeState, fragmentState, setPath,
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
