import assert from "node:assert/strict";
import test from "node:test";

import {
  entryTex, entryText, fmt, formulaTex, formulaText, relationTex, texNumber, texValue,
} from "../../src/handgrad/serve/static/format.mjs";

test("numbers for the eye: significant digits, ×10^ outside 1e-4 .. 1e5", () => {
  assert.equal(fmt(0.7213991), "0.7214");
  assert.equal(fmt(-13), "-13");
  assert.equal(fmt(0), "0");
  assert.equal(fmt(1.5265626412674704, 6), "1.52656");
  assert.equal(fmt(8.2938e-6), "8.294×10^-6");
  assert.equal(fmt(123456), "1.235×10^+5");
  assert.equal(texNumber(123456), "1.2346\\times 10^{5}");
  assert.equal(fmt(NaN), "NaN");
  assert.equal(fmt("text"), "text");
});

test("numbers and arrays for KaTeX", () => {
  assert.equal(texNumber(8.2938e-6), "8.2938\\times 10^{-6}");
  assert.equal(texNumber(0.5), "0.5");
  assert.equal(texValue([1, -2]), "\\begin{bmatrix} 1 \\\\ -2 \\end{bmatrix}");
  assert.equal(texValue([[1, 2], [3, 4]]), "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}");
  // 13 rows of 11: the first and last five rows, the first and last four columns
  const big = Array.from({ length: 13 }, (_, i) =>
    Array.from({ length: 11 }, (_, j) => i * 100 + j));
  const rows = texValue(big).split(" \\\\ ");
  assert.equal(rows.length, 11);
  assert.equal(rows[5], "\\vdots");
  assert.equal(rows[0], "\\begin{bmatrix} 0 & 1 & 2 & 3 & \\cdots & 7 & 8 & 9 & 10");
});

test("a quantity as the server writes it, and one entry of it", () => {
  const q = { symbol: "W1", symbol_latex: "W_{1}", relation: "←", formula: "W1 (frozen)",
    formula_latex: "W_{1}\\ (\\text{frozen})" };
  assert.equal(relationTex("←"), "\\leftarrow");
  assert.equal(relationTex("="), "=");
  assert.equal(formulaTex(q), "W_{1} \\leftarrow W_{1}\\ (\\text{frozen})");
  assert.equal(formulaText(q), "W1 ← W1 (frozen)");
  assert.equal(entryTex(q, [2, 1]), "\\left(W_{1}\\right)_{2,1}");
  assert.equal(entryText(q, [2, 1]), "W1[2,1]");
});
