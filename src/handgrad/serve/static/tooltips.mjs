// What a neuron or an edge of the drawing says: its labels, and its tooltip. Pure: no DOM.
//
// A tooltip is built from the server's quantities only: each line is a quantity's symbol,
// relation and formula as the server writes them (its formula, not a copy typed here: "W1 −
// η ∂L/∂W1, applied 2 times", "W1 (frozen)") and the value of the entry at this neuron or
// edge. A tip is { lines: [{ tex, text }], where, notes }: each line's KaTeX pieces (the
// formula, then the entry: a narrow tooltip wraps between them) and its plain text, where the
// part sits, and the quantities' notes (the server's words).
import {
  DIGITS, entryTex, entryText, fmt, formulaTex, formulaText, texNumber,
} from "./format.mjs";
import {
  depth, inputRow, instanceRow, param, quantity, unitIndex, valueAt, weight, weightIndex,
} from "./quantities.mjs";

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
    const line = { tex: [`x[${n}] = ${texNumber(x, DIGITS)}`], text: `x[${n}] = ${fmt(x, DIGITS)}` };
    return { lines: [line], where: "given", notes: [] };
  }
  const shown = nodeQuantities(result, view, l)
    .map(([key, section]) => quantity(result, key, section));
  const lines = shown.map((q) => {
    const index = unitIndex(result, q, instance, k);
    return quantityLine(q, index, valueAt(q.value, index));
  });
  // ∂L/∂h = ∂L/∂a ⊙ f′(h): the factor f′ at this unit's h, as the server computed it
  const slope = view === "backward" && l < depth(result) && derivativeLine(result, instance, l, k);
  if (slope) lines.splice(1, 0, slope);
  const layer = l === depth(result) ? "the output layer" : `hidden layer ${l}`;
  return { lines, where: `unit ${n} of ${layer}`, notes: notesOf(shown) };
}

// f′(h) at one unit, evaluated: "ReLU′(h1[2]) = ReLU′(2) = 1". The server sends f′ of each
// hidden layer (result.derivatives, from the core's activation table); older answers lack it.
export function derivativeLine(result, instance, l, k) {
  const d = result.derivatives && result.derivatives[`h${l}`];
  const h = quantity(result, `h${l}`, "forward");
  if (!d || !h) return null;
  const index = unitIndex(result, h, instance, k);
  const at = valueAt(h.value, index);
  const slope = valueAt(d.value, index);
  const shown = index.map((i) => i + 1);
  return {
    tex: [`${d.name_latex}\\!\\left(${entryTex(h, shown)}\\right)`
      + ` = ${d.name_latex}(${texNumber(at, DIGITS)}) = ${texNumber(slope, DIGITS)}`],
    text: `${d.name}(${entryText(h, shown)}) = ${d.name}(${fmt(at, DIGITS)}) = ${fmt(slope, DIGITS)}`,
  };
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

// What a neuron shows. Inside its circle its name, the entry it is (a symbol, the layer as a
// subscript, the unit as an index: a₁[2], as the solution's a_1 and the tooltip's a1[2]),
// and its value; under the circle the neuron's other quantity. Values are numbers: the
// drawing writes them with as many of the DIGITS as fit (format.shorterForms).
// { name: { symbol, layer, index, text }, value, under: { prefix, value } | null }
export function nodeLabels(result, view, instance, l, k) {
  const L = depth(result);
  const row = (key, section) => instanceRow(result, instance, key, section)[k];
  const name = (symbol, layer) =>
    ({ symbol, layer, index: String(k + 1), text: `${symbol}${layer}[${k + 1}]` });
  if (l === 0) return { name: name("x", ""), value: inputRow(result, instance)[k], under: null };
  if (view === "backward") {
    if (l === L) return { name: name("∂z", ""), value: row("dz", "backward"), under: null };
    return { name: name("∂h", String(l)), value: row(`dh${l}`, "backward"),
      under: { prefix: "∂a", value: row(`da${l}`, "backward") } };
  }
  if (l === L) {
    return { name: name("ŷ", ""), value: row("yhat", "forward"),
      under: { prefix: "z", value: row("z", "forward") } };
  }
  return { name: name("a", String(l)), value: row(`a${l}`, "forward"),
    under: { prefix: "h", value: row(`h${l}`, "forward") } };
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
