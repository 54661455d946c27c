// What a neuron or an edge of the drawing says: its labels, and its tooltip. Pure: no DOM.
//
// A tooltip is built from the server's quantities only: each line is a quantity's symbol,
// relation and formula as the server writes them (its formula, not a copy typed here: "W1 −
// η ∂L/∂W1, applied 2 times", "W1 (frozen)") and the value of the entry at this neuron or
// edge. A tip is { lines: [{ tex, text }], where, notes }: each line's KaTeX pieces (the
// formula, then the entry: a narrow tooltip wraps between them) and its plain text, where the
// part sits, and the quantities' notes (the server's words).
import { entryTex, entryText, fmt, formulaTex, formulaText, texNumber } from "./format.mjs";
import {
  depth, inputRow, instanceRow, param, quantity, unitIndex, valueAt, weight, weightIndex,
} from "./quantities.mjs";

const DIGITS = 6;

// `symbol relation formula, entry = value`; an update shows the entry before → after.
export function quantityLine(q, index, value, before) {
  const shown = index.map((i) => i + 1);
  const head = formulaTex(q);
  const headText = formulaText(q);
  if (before !== undefined) {
    return {
      tex: [`${head},`,
        `${entryTex(q, shown)}:\\ ${texNumber(before, DIGITS)} \\to ${texNumber(value, DIGITS)}`],
      text: `${headText}; ${entryText(q, shown)}: ${fmt(before, DIGITS)} → ${fmt(value, DIGITS)}`,
    };
  }
  return {
    tex: [`${head},`, `${entryTex(q, shown)} = ${texNumber(value, DIGITS)}`],
    text: `${headText}; ${entryText(q, shown)} = ${fmt(value, DIGITS)}`,
  };
}

function notesOf(quantities) {
  return quantities.map((q) => q.note).filter((note) => note);
}

// The quantities each neuron shows: its forward values, or its gradients.
function nodeQuantities(result, view, l) {
  const L = depth(result);
  if (view === "backward") {
    return l === L ? [["dz", "backward"]] : [[`da${l}`, "backward"], [`dh${l}`, "backward"]];
  }
  return l === L ? [["z", "forward"], ["yhat", "forward"]]
    : [[`h${l}`, "forward"], [`a${l}`, "forward"]];
}

export function nodeTip(result, view, instance, l, k) {
  const n = k + 1;
  if (l === 0) {
    const x = inputRow(result, instance)[k];
    const line = { tex: [`x_{${n}} = ${texNumber(x, DIGITS)}`], text: `x${n} = ${fmt(x, DIGITS)}` };
    return { lines: [line], where: "given", notes: [] };
  }
  const shown = nodeQuantities(result, view, l)
    .map(([key, section]) => quantity(result, key, section));
  const lines = shown.map((q) => {
    const index = unitIndex(result, q, instance, k);
    return quantityLine(q, index, valueAt(q.value, index));
  });
  const layer = l === depth(result) ? "the output layer" : `hidden layer ${l}`;
  return { lines, where: `unit ${n} of ${layer}`, notes: notesOf(shown) };
}

// An edge is one weight: its gradient (the first step's) and its update, as the server
// computed them over all the problem's steps.
export function edgeTip(result, l, i, j) {
  const gradient = quantity(result, `dW${l}`, "backward");
  const update = quantity(result, `W${l}`, "update");
  const index = weightIndex(result, i, j);
  const before = valueAt(param(result, `W${l}`), index);
  return {
    lines: [
      quantityLine(gradient, index, valueAt(gradient.value, index)),
      quantityLine(update, index, valueAt(update.value, index), before),
    ],
    where: `weight from unit ${i + 1} of layer ${l - 1} to unit ${j + 1} of layer ${l}`,
    notes: notesOf([gradient, update]),
  };
}

// The text a screen reader gives a neuron or an edge.
export function tipLabel(tip) {
  return tip.lines.map((line) => line.text).join("; ");
}

export function edgeLabel(result, l, i, j) {
  const index = weightIndex(result, i, j).map((v) => v + 1).join(",");
  const update = quantity(result, `W${l}`, "update");
  const gradient = quantity(result, `dW${l}`, "backward");
  return `${update.symbol}[${index}] = ${fmt(weight(result, l, i, j))}, `
    + `${gradient.symbol}[${index}] = ${fmt(weight(result, l, i, j, true))}`;
}

// Inside a neuron's circle its name and value; under it the other quantity of the neuron.
export function nodeLabels(result, view, instance, l, k) {
  const L = depth(result);
  const row = (key, section) => instanceRow(result, instance, key, section)[k];
  if (l === 0) return [`x${k + 1}`, fmt(inputRow(result, instance)[k], 3), ""];
  if (view === "backward") {
    if (l === L) return [`∂z${k + 1}`, fmt(row("dz", "backward"), 3), ""];
    const da = fmt(row(`da${l}`, "backward"), 3);
    return [`∂h${k + 1}`, fmt(row(`dh${l}`, "backward"), 3), `∂a ${da}`];
  }
  if (l === L) {
    return [`ŷ${k + 1}`, fmt(row("yhat", "forward"), 3), `z ${fmt(row("z", "forward"), 3)}`];
  }
  return [`a${k + 1}`, fmt(row(`a${l}`, "forward"), 3), `h ${fmt(row(`h${l}`, "forward"), 3)}`];
}

// The summary line over the drawing.
export function summary(result) {
  const problem = result.problem;
  const net = problem.network;
  const loss = problem.loss;
  const lossText = loss.kind === "cross_entropy"
    ? `cross-entropy, ε = ${loss.label_smoothing}` : "squared error";
  return [problem.title || "problem", net.layers.join(" → "), net.activation, net.output,
    lossText, `η = ${problem.optimizer.learning_rate}`].join(" · ");
}
