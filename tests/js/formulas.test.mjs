import assert from "node:assert/strict";
import test from "node:test";

import { answer } from "./load.mjs";
import {
  caretLines, derivationToml, fieldsSignature, formulaFields, formulaItems, formulaRequest, formulaSummary,
  formulaVerdict,
} from "../../src/handgrad/serve/static/formulas.mjs";
import {
  firstWrong, givesNumbers, numberItems, summaryLine,
} from "../../src/handgrad/serve/static/answers.mjs";

const seed = answer("homework3_frozen");
const deep = answer("deep_batch");
const graded = answer("grade_formulas");  // /api/grade with five formulas and one number
const item = (name) => formulaItems(graded).find((i) => i.name === name);

test("a field per asked gradient from the problem's depth, the steps apart", () => {
  const { asked, steps } = formulaFields(seed.formulas);
  assert.deepEqual(asked.map((f) => f.name), ["dW2", "db2", "dW1", "db1"]);
  assert.deepEqual(steps.map((f) => f.name), ["dyhat", "dz", "da1", "dh1"]);
  assert.equal(asked[0].tex, "\\frac{\\partial L}{\\partial W_{2}}");
  assert.equal(asked[0].symbol, "∂L/∂W2");
  const deeper = formulaFields(deep.formulas);
  assert.deepEqual(deeper.asked.map((f) => f.name), ["dW3", "db3", "dW2", "db2", "dW1", "db1"]);
  assert.notEqual(fieldsSignature(seed.formulas), fieldsSignature(deep.formulas));
  assert.deepEqual(formulaFields(undefined), { asked: [], steps: [] });
});

test("the request carries the typed formulas and the chosen syntax, blanks left out", () => {
  assert.deepEqual(formulaRequest({ dW2: "a1 @ dz.T", db2: "  ", dz: "" }),
    { derivation: { dW2: "a1 @ dz.T" } });
  assert.deepEqual(formulaRequest({ dW2: "a_1 dz^\\top" }, "latex"),
    { derivation: { dW2: "a_1 dz^\\top" }, syntax: "latex" });
  assert.deepEqual(formulaRequest({ dW2: "x" }, "numpy").syntax, "numpy");
  assert.equal(formulaRequest({ dW2: "x" }, "auto").syntax, undefined);
  assert.deepEqual(formulaRequest({ db1: " " }, "latex"), {});  // nothing typed: no formulas
  assert.deepEqual(formulaRequest(null), {});
});

test("the formulas apart from the numbers: summaries and the first wrong step", () => {
  assert.deepEqual(formulaItems(graded).map((i) => i.name), ["dz", "dW2", "db2", "dW1", "db1"]);
  assert.equal(formulaSummary(graded), "1 correct, 1 carried forward, 3 wrong, 0 missing "
    + "(5 formulas graded for every size: vectors are columns, a batch one column per instance).");
  // the numbers' line counts the numbers alone; the network marks a number, never a formula
  assert.match(summaryLine(graded), /^1 correct, 0 carried forward, 0 wrong, 17 missing/);
  assert.ok(numberItems(graded).every((i) => i.section !== "derivation"));
  assert.equal(firstWrong(graded), null);
  assert.equal(givesNumbers(graded), true);
  const formulasAlone = { ...graded,
    items: graded.items.map((i) => (i.section === "derivation" ? i : { ...i, status: "missing" })) };
  assert.equal(givesNumbers(formulasAlone), false);
});

test("each verdict: how it was read, the cause in words, a right one when wrong", () => {
  const dW2 = formulaVerdict(item("dW2"));
  assert.equal(dW2.statusText, "✗ wrong");
  assert.equal(dW2.cause, "outer_order");
  assert.equal(dW2.readTex, "\\left(\\hat{y} - y^{s}\\right)\\,a_{1}^{\\top}");
  assert.match(dW2.words, /outer product in the wrong order/);
  assert.ok(dW2.expectedTex.includes("a_{1}"));
  assert.equal(dW2.caret, null);
  const dW1 = formulaVerdict(item("dW1"));  // LaTeX, right: read back, no right one shown
  assert.equal(dW1.status, "correct");
  assert.ok(dW1.readTex.includes("\\odot"));
  assert.equal(dW1.expectedTex, "");
  assert.equal(dW1.words, "");
  const db2 = formulaVerdict(item("db2"));
  assert.equal(db2.statusText, "↪ carried forward");
  assert.match(db2.words, /your own earlier steps/);
  const db1 = formulaVerdict(item("db1"));  // unreadable: no reading, the caret at the end
  assert.equal(db1.cause, "unreadable");
  assert.equal(db1.readTex, "");
  assert.deepEqual(db1.caret, { text: "outer(x", caret: "       ^" });
  assert.match(db1.words, /cannot be read/);
  const missing = formulaVerdict({ section: "derivation", name: "db1", status: "missing",
    expected_latex: "\\frac{\\partial L}{\\partial h_{1}}" });
  assert.equal(missing.words, "not given");
  assert.ok(missing.expectedTex);
});

test("the caret stays under the character in a long formula", () => {
  assert.deepEqual(caretLines("a1 @ (", 2), { text: "a1 @ (", caret: "  ^" });
  assert.equal(caretLines("x", null), null);
  const long = `${"a".repeat(100)}#${"b".repeat(50)}`;
  const { text, caret } = caretLines(long, 100, 60);
  assert.equal(text[caret.length - 1], "#");
  assert.ok(text.startsWith("…") && text.endsWith("…"));
  assert.ok(text.length <= 62);
});

test("the typed formulas as the answer file's [derivation] section", () => {
  assert.equal(derivationToml({ dW2: "a_1 (\\hat{y} - y^{s})^\\top", db2: " ", db1: "dh1" }),
    '[derivation]\ndW2 = "a_1 (\\\\hat{y} - y^{s})^\\\\top"\ndb1 = "dh1"\n');
  assert.equal(derivationToml({ dz: "" }), "");
  assert.equal(derivationToml({ db1: "dh1", dW1: "x @ dh1.T" }, ["dW1", "db1"]),
    '[derivation]\ndW1 = "x @ dh1.T"\ndb1 = "dh1"\n');
});
