// The page's module layout: the logic modules run without a DOM (so these tests reach them),
// and every module, DOM ones included, parses.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import test from "node:test";
import { fileURLToPath } from "node:url";

import { STATIC } from "./load.mjs";

const LOGIC = [
  "answers.mjs", "api.mjs", "edits.mjs", "format.mjs", "geometry.mjs", "quantities.mjs",
  "state.mjs", "tooltips.mjs",
];

test("the logic modules import without a DOM and never reach for one", async () => {
  for (const name of LOGIC) {
    const source = readFileSync(new URL(name, STATIC), "utf8");
    assert.doesNotMatch(source, /\b(document|window|history|location)\./, name);
    await import(new URL(name, STATIC));
  }
});

test("every module of the page parses", () => {
  const modules = readdirSync(STATIC).filter((name) => name.endsWith(".mjs"));
  assert.ok(modules.includes("app.mjs") && modules.length > LOGIC.length);
  for (const name of modules) {
    const checked = spawnSync(process.execPath, ["--check", fileURLToPath(new URL(name, STATIC))]);
    assert.equal(checked.status, 0, `${name}: ${checked.stderr}`);
  }
});
