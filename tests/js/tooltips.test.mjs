// The network's tooltips and labels, fed the server's real answers. Expected numbers are the
// command line's (`handgrad solve deep_batch -f json`, `handgrad solve` of the seed with
// optimizer.frozen = ["W1"]), written out here by hand.
import assert from "node:assert/strict";
import test from "node:test";

import { answer } from "./load.mjs";
import {
  derivativeLine, edgeLabel, edgeTip, nodeLabels, nodeTip, summary, tipLabel,
} from "../../src/handgrad/serve/static/tooltips.mjs";

const deep = answer("deep_batch");
const frozen = answer("homework3_frozen");

test("an edge's update is the server's: deep_batch takes 2 steps, not w − η·g once", () => {
  // W1 is 4 × 3 in the out_in layout: the edge from input 3 to hidden unit 3 is W1[3,3].
  // Given 1; ∂L/∂W1[3,3] = −0.128887 at the first step; after both steps 0.527965. One step
  // would give 1 − 0.5·(−0.128887) = 1.064443: the old tooltip wrote "= 0.527965" after it.
  const tip = edgeTip(deep, 1, 2, 2);
  const [gradient, update] = tip.lines;
  assert.equal(gradient.text, "∂L/∂W1 = (∂L/∂H1)ᵀ X; ∂L/∂W1[3,3] = -0.128887");
  assert.equal(update.text,
    "W1 ← W1 − η ∂L/∂W1, applied 2 times; W1[3,3]: 1 → 0.527965");
  assert.deepEqual(update.tex, [
    "W_{1} \\leftarrow W_{1} - \\eta \\frac{\\partial L}{\\partial W_{1}},"
      + "\\ \\text{applied 2 times},",
    "W_{1}[3,3]:\\ 1 \\to 0.527965",
  ]);
  for (const line of tip.lines) assert.ok(!`${line.tex} ${line.text}`.includes("1.06444"));
  assert.equal(tip.where, "weight from unit 3 of layer 0 to unit 3 of layer 1");
  assert.deepEqual(tip.notes, [
    "every step uses the gradient at that step's parameters; "
      + "the gradients shown above are the first step's",
  ]);
});

test("every W1 edge of deep_batch ends where the command line's two steps end", () => {
  // update.W1 of the command line's JSON, rounded to 6 digits as the tooltip shows it
  const after = [
    ["0.367784", "-0.700003", "-0.364441"],
    ["0", "1.92623", "-0.926234"],
    ["-1.23602", "0", "0.527965"],
    ["1.63602", "1.3", "1.17204"],
  ];
  for (let unit = 0; unit < 4; unit++) {
    for (let input = 0; input < 3; input++) {
      const update = edgeTip(deep, 1, input, unit).lines[1].text;
      assert.ok(update.endsWith(` → ${after[unit][input]}`), `${update} (unit ${unit + 1})`);
    }
  }
});

test("a frozen parameter's edge says so and keeps its value", () => {
  // the seed with W1 frozen: ∂L/∂W1[2,2] = 0.347148 is computed, W1 stays 2 (in_out layout)
  const [gradient, update] = edgeTip(frozen, 1, 1, 1).lines;
  assert.equal(gradient.text, "∂L/∂W1 = x (∂L/∂h1)ᵀ; ∂L/∂W1[2,2] = 0.347148");
  assert.equal(update.text, "W1 ← W1 (frozen); W1[2,2]: 2 → 2");
  assert.equal(update.tex[0], "W_{1} \\leftarrow W_{1}\\ (\\text{frozen}),");
  // W2 is not frozen: one step of 0.1, W2[2,1] = −2 − 0.1·1.06922 = −2.10692... as the CLI
  assert.equal(edgeTip(frozen, 2, 1, 0).lines[1].text,
    "W2 ← W2 − η ∂L/∂W2; W2[2,1]: -2 → -1.89308");
});

test("a neuron's tooltip is its quantities' formulas and values", () => {
  // deep_batch, instance 1, hidden layer 1, unit 1: h = 1.5, a = 1.5; ∂L/∂h = 0.0644435
  const forward = nodeTip(deep, "forward", 0, 1, 0);
  assert.deepEqual(forward.lines.map((l) => l.text), [
    "H1 = X W1ᵀ + b1; H1[1,1] = 1.5",
    "A1 = ReLU(H1); A1[1,1] = 1.5",
  ]);
  assert.equal(forward.where, "unit 1 of hidden layer 1");
  const backward = nodeTip(deep, "backward", 0, 1, 0);
  // ∂L/∂h = ∂L/∂a ⊙ f′(h), with f′ at this unit evaluated (the server's, not the page's)
  assert.deepEqual(backward.lines.map((l) => l.text), [
    "∂L/∂A1 = ∂L/∂H2 W2; ∂L/∂A1[1,1] = 0.0644435",
    "ReLU′(H1[1,1]) = ReLU′(1.5) = 1",
    "∂L/∂H1 = ∂L/∂A1 ⊙ 1[H1 > 0]; ∂L/∂H1[1,1] = 0.0644435",
  ]);
  assert.deepEqual(backward.lines[1].tex,
    ["\\operatorname{ReLU}'\\!\\left(H_{1}[1,1]\\right) = \\operatorname{ReLU}'(1.5) = 1"]);
  // the third instance's second unit: h = −4, so ReLU′ = 0
  assert.equal(nodeTip(deep, "backward", 2, 1, 1).lines[1].text,
    "ReLU′(H1[3,2]) = ReLU′(-4) = 0");
  assert.deepEqual(backward.notes,
    ["ReLU′(h) = 1 where h > 0, 0 where h < 0, and 0 at h = 0 by convention"]);
  // the third instance's second unit: h = −4 (the CLI's forward.h1[2][1]), so a = 0
  assert.equal(nodeTip(deep, "forward", 2, 1, 1).lines[1].text, "A1 = ReLU(H1); A1[3,2] = 0");
  const input = nodeTip(deep, "forward", 1, 0, 2);
  assert.deepEqual(input.lines, [{ tex: ["x[3] = -1"], text: "x[3] = -1" }]);
  assert.equal(input.where, "given");
  // the seed's output layer: z and ŷ of one instance, indexed by unit only
  assert.equal(tipLabel(nodeTip(frozen, "forward", 0, 2, 2)),
    "z = W2ᵀa1 + b2; z[3] = 1; ŷ = softmax(z); ŷ[3] = 0.721399");
});

test("f′(h) evaluated: the server's value, and none where the answer carries none", () => {
  const sigmoid = structuredClone(frozen);
  // as the server answers for the seed with a sigmoid (σ′(h) = a(1 − a) at h = 2: 0.104994)
  sigmoid.derivatives = { h1: { name: "σ′", name_latex: "\\sigma'", value: [2.26e-6, 0.104994, 0.00665] } };
  assert.equal(derivativeLine(sigmoid, 0, 1, 1).text, "σ′(h1[2]) = σ′(2) = 0.104994");
  delete sigmoid.derivatives;
  assert.equal(derivativeLine(sigmoid, 0, 1, 1), null);
  assert.equal(nodeTip(sigmoid, "backward", 0, 1, 1).lines.length, 2);
});

test("labels: the circles name the entry, as the solution and the tooltip do", () => {
  assert.deepEqual(nodeLabels(frozen, "forward", 0, 1, 1), {
    name: { symbol: "a", layer: "1", index: "2", text: "a1[2]" }, value: 2,
    under: { prefix: "h", value: 2 },
  });
  const output = nodeLabels(frozen, "forward", 0, 2, 2);
  assert.equal(output.name.text, "ŷ[3]");
  assert.equal(output.value, 0.7213991842739687);  // the number itself: the drawing fits it
  assert.deepEqual(output.under, { prefix: "z", value: 1 });
  const hidden = nodeLabels(frozen, "backward", 0, 1, 1);
  assert.equal(hidden.name.text, "∂h1[2]");
  assert.equal(hidden.under.prefix, "∂a");
  const last = nodeLabels(deep, "backward", 0, 3, 1);
  assert.equal(last.name.text, "∂z[2]");
  assert.equal(last.under, null);
  assert.equal(nodeLabels(deep, "forward", 1, 0, 2).name.text, "x[3]");
  // the edges' names: every number to the page's 6 digits
  assert.equal(edgeLabel(deep, 1, 2, 2), "W1[3,3] = 1, ∂L/∂W1[3,3] = -0.128887");
  assert.equal(edgeLabel(frozen, 1, 1, 0), "W1[2,1] = -5, ∂L/∂W1[2,1] = 0");
  assert.equal(summary(frozen), "Homework 3, Problem 2 · 2 → 3 → 3 · relu · softmax · "
    + "cross-entropy, ε = 0.3 · η = 0.1");
});
