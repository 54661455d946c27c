import assert from "node:assert/strict";
import test from "node:test";

import { answer } from "./load.mjs";
import {
  answerGrids, answerSource, answerToml, cellOrder, emptyCells, filledCells, gridsSignature,
  holdsTypedAnswer, isMultiPaste, parsePaste, pasteInto, tomlEntry,
} from "../../src/handgrad/serve/static/answerform.mjs";

const seed = answer("homework3_frozen");
const deep = answer("deep_batch");
const grids = answerGrids(seed.quantities);
const byId = (id) => grids.find((g) => g.id === id);

test("one grid per asked quantity, with its shape", () => {
  assert.deepEqual(grids.map((g) => g.id), [
    "forward.h1", "forward.a1", "forward.z", "forward.yhat", "forward.loss",
    "backward.dz", "backward.dW2", "backward.db2", "backward.da1", "backward.dh1",
    "backward.dW1", "backward.db1",
    "update.W1", "update.b1", "update.W2", "update.b2",
  ]);  // not ys, losses or the loss after the step
  assert.deepEqual([byId("forward.h1").kind, byId("forward.h1").rows, byId("forward.h1").cols],
    ["vector", 1, 3]);
  assert.deepEqual([byId("forward.loss").kind, byId("forward.loss").rows, byId("forward.loss").cols],
    ["scalar", 1, 1]);
  assert.deepEqual([byId("backward.dW1").kind, byId("backward.dW1").rows, byId("backward.dW1").cols],
    ["matrix", 2, 3]);
  assert.equal(byId("backward.dz").symbol, "\\frac{\\partial L}{\\partial z}");
  // a batch: H1 is one row per instance
  const h1 = answerGrids(deep.quantities).find((g) => g.id === "forward.h1");
  assert.deepEqual([h1.kind, h1.rows, h1.cols], ["matrix", 3, 4]);
  assert.notEqual(gridsSignature(grids), gridsSignature(answerGrids(deep.quantities)));
});

test("Tab goes through the cells in reading order: row by row, grid by grid", () => {
  const order = cellOrder(grids);
  assert.equal(order.length, 3 * 4 + 1 + 3 + 9 + 3 * 4 + 6 + 6 + 3 + 9 + 3);
  assert.deepEqual(order.slice(0, 4), [["forward.h1", 0, 0], ["forward.h1", 0, 1],
    ["forward.h1", 0, 2], ["forward.a1", 0, 0]]);
  const w2 = order.filter(([id]) => id === "backward.dW2");
  assert.deepEqual(w2.slice(2, 5), [["backward.dW2", 0, 2], ["backward.dW2", 1, 0],
    ["backward.dW2", 1, 1]]);
  const loss = order.findIndex(([id]) => id === "forward.loss");
  assert.deepEqual(order[loss + 1], ["backward.dz", 0, 0]);
});

test("pasted text: rows of entries, spaces, commas or tabs", () => {
  assert.deepEqual(parsePaste("1 2 3"), [["1", "2", "3"]]);
  assert.deepEqual(parsePaste("1, -2.5,3e-2\n4,5,6\n"), [["1", "-2.5", "3e-2"], ["4", "5", "6"]]);
  assert.deepEqual(parsePaste("1\t\t3\r\n4\t5\t6"), [["1", "", "3"], ["4", "5", "6"]]);
  assert.deepEqual(parsePaste("[0.5, 1/3]"), [["0.5", "1/3"]]);
  assert.ok(isMultiPaste(parsePaste("1 2")));
  assert.ok(isMultiPaste(parsePaste("1\n2")));
  assert.ok(!isMultiPaste(parsePaste("-13")));
});

test("a paste fills the row from the cell on, several lines several rows", () => {
  const g = byId("backward.dW2");
  const cells = emptyCells(grids)[g.id];
  let { cells: out, dropped } = pasteInto(g, cells, 0, 1, parsePaste("7 8 9"));
  assert.deepEqual(out, [["", "7", "8"], ["", "", ""], ["", "", ""]]);
  assert.equal(dropped, 1);
  assert.deepEqual(cells[0], ["", "", ""]);  // the old cells stay as they were
  ({ cells: out, dropped } = pasteInto(g, cells, 1, 0, parsePaste("1 2 3\n4 5 6\n7 8 9")));
  assert.deepEqual(out, [["", "", ""], ["1", "2", "3"], ["4", "5", "6"]]);
  assert.equal(dropped, 3);
  // a vector takes every entry in turn, whatever the lines
  const v = byId("forward.h1");
  ({ cells: out } = pasteInto(v, [["", "", ""]], 0, 0, parsePaste("1\n2\n3")));
  assert.deepEqual(out, [["1", "2", "3"]]);
});

test("a cell's text as TOML: numbers as written, fractions as text, else refused", () => {
  assert.equal(tomlEntry(" -13 "), "-13");
  assert.equal(tomlEntry("0.270"), "0.270");
  assert.equal(tomlEntry("1e-3"), "1e-3");
  assert.equal(tomlEntry("\u22125"), "-5");  // the page's own minus sign
  assert.equal(tomlEntry(".5"), '".5"');
  assert.equal(tomlEntry("4/5"), '"4/5"');
  assert.equal(tomlEntry("4/0"), null);
  assert.equal(tomlEntry("abc"), null);
  assert.equal(tomlEntry("1,5"), null);
});

function filled(values) {
  const cells = emptyCells(grids);
  for (const [id, rows] of Object.entries(values)) cells[id] = rows;
  return cells;
}

test("the filled form as the TOML answer file that handgrad grade reads", () => {
  const cells = filled({
    "forward.h1": [["-13", "2", "-5"]],
    "forward.a1": [["0", "2", "0"]],
    "forward.loss": [["1.2345"]],
    "backward.dz": [["0.5346", "0.0868", "-0.6214"]],
    "backward.dW1": [["0", "0", "0"], ["0.347", "1/3", ".5"]],
  });
  assert.equal(filledCells(grids, cells), 16);
  assert.equal(answerSource(grids, cells), "form");
  assert.equal(answerSource(grids, emptyCells(grids)), "text");
  const { text, problems } = answerToml(grids, cells);
  assert.deepEqual(problems, []);
  assert.equal(text, [
    "[forward]",
    "h1 = [-13, 2, -5]",
    "a1 = [0, 2, 0]",
    "loss = 1.2345",
    "",
    "[backward]",
    "dz = [0.5346, 0.0868, -0.6214]",
    "dW1 = [",
    "  [0, 0, 0],",
    '  [0.347, "1/3", ".5"],',
    "]",
    "",
  ].join("\n"));
});

test("a quantity filled in part, or a cell that is no number, is refused by name", () => {
  const cells = filled({
    "forward.h1": [["-13", "", "-5"]],
    "backward.dW2": [["1", "2", "3"], ["4", "x", "6"], ["7", "8", "9"]],
    "forward.loss": [["1"]],
  });
  const { text, problems } = answerToml(grids, cells);
  assert.equal(text, null);
  assert.deepEqual(problems, [
    "forward.h1: 1 of its 3 cells are blank; fill them all in, or clear them all if you did "
      + "not compute it",
    'backward.dW2[2,2]: "x" is not a number',
  ]);
});

test("the Template asks before replacing a typed answer", () => {
  assert.ok(!holdsTypedAnswer(""));
  assert.ok(!holdsTypedAnswer("[forward]\n# h1 = ...   (shape 3)\n\n[backward]\n"));
  assert.ok(holdsTypedAnswer("[forward]\nh1 = [1, 2, 3]\n"));
});
