import assert from "node:assert/strict";
import test from "node:test";

import { api, errorMessage } from "../../src/handgrad/serve/static/api.mjs";

// A stand-in for fetch: records the request, answers `status` with `body`.
function server(status, body) {
  const calls = [];
  const fetcher = async (path, options) => {
    calls.push({ path, options });
    return { ok: status < 400, status, statusText: "Unprocessable", text: async () => body };
  };
  return { calls, fetcher };
}

test("a POST sends JSON and returns the answer's JSON", async () => {
  const { calls, fetcher } = server(200, '{"losses": [1, 0.5]}');
  assert.deepEqual(await api("/api/step", { steps: 2 }, fetcher), { losses: [1, 0.5] });
  assert.equal(calls[0].options.method, "POST");
  assert.equal(calls[0].options.body, '{"steps":2}');
  const get = server(200, "[]");
  await api("/api/examples", undefined, get.fetcher);
  assert.deepEqual(get.calls[0].options, {});
});

test("a refused request throws the server's message", async () => {
  const { fetcher } = server(422, '{"error": "loss.label_smoothing: ε must be between 0 and 1"}');
  await assert.rejects(api("/api/solve", {}, fetcher),
    { message: "loss.label_smoothing: ε must be between 0 and 1" });
  const text = server(413, "too big");
  await assert.rejects(api("/api/solve", {}, text.fetcher), { message: "too big" });
});

test("FastAPI's field errors become one line", () => {
  const detail = [
    { loc: ["body", "steps"], msg: "too large" }, { loc: ["body", "problem", "x"], msg: "missing" },
  ];
  assert.equal(errorMessage(422, "Unprocessable", { detail }),
    "steps: too large; problem.x: missing");
  assert.equal(errorMessage(500, "Internal Server Error", {}), "500 Internal Server Error");
});
