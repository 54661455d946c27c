import assert from "node:assert/strict";
import test from "node:test";

import { answer } from "./load.mjs";
import {
  answerTemplate, firstWrong, gradeRequest, summaryLine,
} from "../../src/handgrad/serve/static/answers.mjs";

test("the template names every quantity of the problem, by section", () => {
  const lines = answerTemplate(answer("homework3_frozen").quantities).split("\n");
  assert.equal(lines[0], "[forward]");
  assert.equal(lines[1], "# h1 = ...   (shape 3)");
  assert.ok(lines.includes("# loss = ...   (shape a number)"));
  assert.ok(lines.includes("# dW2 = ...   (shape 3×3)"));
  assert.deepEqual(lines.filter((l) => l.startsWith("[")), ["[forward]", "[backward]", "[update]"]);
});

test("the grade request: relative tolerance, or decimals when given", () => {
  const problem = { network: {} };
  assert.deepEqual(gradeRequest(problem, "x", "0.01", " "),
    { problem, answer_text: "x", rtol: 0.01 });
  assert.deepEqual(gradeRequest(problem, "x", "", "2"),
    { problem, answer_text: "x", rtol: 0.001, decimals: 2 });
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
