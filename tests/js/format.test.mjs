import assert from "node:assert/strict";
import test from "node:test";

import {
  DIGITS, entryTex, entryText, fmt, formulaTex, formulaText, relationTex, shorterForms,
  texNumber, texValue,
} from "../../src/handgrad/serve/static/format.mjs";

test("one digits setting: 6, the command line's default (handgrad solve --digits)", () => {
  assert.equal(DIGITS, 6);
  // the examples: the page showed 0.26539 and 1.217 where the CLI shows these
  assert.equal(fmt(0.26538793), "0.265388");
  assert.equal(fmt(1.2169526574), "1.21695");
  assert.equal(texValue([0.26538793]), "\\begin{bmatrix} 0.265388 \\end{bmatrix}");
});

test("numbers as Python's format(v, '.6g') writes them, the exponent as ×10^", () => {
  // each expected string is Python's f"{v:.6g}" (or .2g), with e±0N written ×10^N
  const python6 = [
    [0.7213991, "0.721399"], [-13, "-13"], [0, "0"], [-0, "0"], [1.5265626412674704, "1.52656"],
    [123456, "123456"], [1234567, "1.23457×10^6"], [0.0001, "0.0001"],
    [0.00001234, "1.234×10^-5"], [0.000245, "0.000245"], [-0.416, "-0.416"],
    [100000, "100000"], [999999.5, "1×10^6"], [0.00009999995, "0.0001"], [1e21, "1×10^21"],
  ];
  for (const [v, text] of python6) assert.equal(fmt(v), text, String(v));
  // an exact tie rounds to even, as Python does (JavaScript's toPrecision rounds it up)
  assert.equal(fmt(1.25, 2), "1.2");
  assert.equal(fmt(0.125, 2), "0.12");
  assert.equal(fmt(0.375, 2), "0.38");
  assert.equal(fmt(8.2938e-6, 4), "8.294×10^-6");
  assert.equal(texNumber(1234567), "1.23457\\times 10^{6}");
  assert.equal(fmt(NaN), "NaN");
  assert.equal(fmt("text"), "text");
});

test("shorter forms for a small space: fewer digits, a short exponent", () => {
  assert.deepEqual(shorterForms(0.0132135),
    ["0.0132135", "0.013213", "0.01321", "0.0132", "0.013", "0.01"]);
  assert.deepEqual(shorterForms(2), ["2"]);
  assert.equal(shorterForms(1.23456789e-5)[0], "1.23457e-5");
  assert.equal(shorterForms(-0.416)[0], "-0.416");
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
  // an entry as the command line names it: W1[2,1], in LaTeX W_{1}[2,1]
  assert.equal(entryTex(q, [2, 1]), "W_{1}[2,1]");
  assert.equal(entryText(q, [2, 1]), "W1[2,1]");
  const gradient = { symbol_latex: "\\frac{\\partial L}{\\partial W_{1}}" };
  assert.equal(entryTex(gradient, [3, 3]),
    "\\left(\\frac{\\partial L}{\\partial W_{1}}\\right)[3,3]");
});
