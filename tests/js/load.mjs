// Shared by the page's unit tests: the real /api/solve answers kept in fixtures/ (checked
// against the server by tests/test_serve.py), and where the page's modules live.
import { readFileSync } from "node:fs";

export const STATIC = new URL("../../src/handgrad/serve/static/", import.meta.url);

export function answer(name) {
  return JSON.parse(readFileSync(new URL(`fixtures/${name}.json`, import.meta.url), "utf8"));
}
