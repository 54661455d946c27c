import assert from "node:assert/strict";
import test from "node:test";

import { answer } from "./load.mjs";
import {
  answerTemplate, firstWrong, gradeRequest, summaryLine, toleranceHelp,
} from "../../src/handgrad/serve/static/answers.mjs";

test("the template names every quantity of the problem, by section", () => {
  const lines = answerTemplate(answer("homework3_frozen").quantities).split("\n");
  assert.equal(lines[0], "[forward]");
  assert.equal(lines[1], "# h1 = ...   (shape 3)");
  assert.ok(lines.includes("# loss = ...   (shape a number)"));
  assert.ok(lines.includes("# dW2 = ...   (shape 3×3)"));
  assert.deepEqual(lines.filter((l) => l.startsWith("[")), ["[forward]", "[backward]", "[update]"]);
});

test("the grade request: the relative tolerance, or the decimals when they are chosen", () => {
  const problem = { network: {} };
  assert.deepEqual(gradeRequest(problem, "x", "0.01", " "),
    { problem, answer_text: "x", rtol: 0.01 });
  // decimals filled in but not chosen: the relative tolerance applies, as the page says
  assert.deepEqual(gradeRequest(problem, "x", "0.01", "2", "rtol"),
    { problem, answer_text: "x", rtol: 0.01 });
  assert.deepEqual(gradeRequest(problem, "x", "", "2", "decimals"),
    { problem, answer_text: "x", rtol: 0.001, decimals: 2 });
  assert.deepEqual(gradeRequest(problem, "x", "0.01", "0", "decimals"),
    { problem, answer_text: "x", rtol: 0.01, decimals: 0 });
});

test("the sentence under the choice says which applies", () => {
  assert.equal(toleranceHelp("rtol", "0.001", "3"),
    "Each value may differ by 0.001 of its size, plus ½ in the last decimal it shows "
    + "(carried through the formulas), as handgrad grade does by default. "
    + "The decimals box does not apply.");
  assert.equal(toleranceHelp("decimals", "0.001", "3"),
    "Every value is taken as rounded to 3 decimals: it may differ by ½ in the third decimal, "
    + "carried through the formulas. The relative tolerance does not apply.");
  assert.match(toleranceHelp("decimals", "", "1"), /rounded to 1 decimal: .*½ in the first /);
  assert.match(toleranceHelp("decimals", "", "0"), /½ in the units place/);
  assert.match(toleranceHelp("decimals", "", "7"), /½ in the 7th decimal/);
});

test("the report's summary and its first wrong step", () => {
  const report = {
    summary: { correct: 6, carried_forward: 1, wrong: 2, missing: 3 }, tolerance: "rtol 0.001",
    items: [
      { name: "z", status: "correct" }, { name: "dz", status: "wrong" },
      { name: "dW2", status: "wrong" },
    ],
  };
  assert.equal(summaryLine(report),
    "6 correct, 1 carried forward, 2 wrong, 3 missing (rtol 0.001).");
  assert.equal(firstWrong(report).name, "dz");
  assert.equal(firstWrong({ items: [] }), null);
});
