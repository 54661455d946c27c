// The Edit panel: every setting of the problem document, and its numbers as grids. An edit
// goes to the server (`actions.edit`); a refused value is marked where it was typed.
import { $, el } from "./dom.mjs";
import {
  hasLabels, layoutChanged, lossKindChanged, number, parseLabels, parseLayers, resize,
  structuralChanges,
} from "./edits.mjs";

const same = (v) => v;
const names = (list) => list.map((name) => ({ value: name, label: name }));

// actions: stale() before an edit; edit(path, value, transform) solves the edited problem and
// rejects with the server's message; structural(change) reshapes the network.
export function drawEditor(state, actions) {
  const panel = $("panel-edit");
  panel.replaceChildren();
  const doc = state.problem;
  const net = doc.network; const loss = doc.loss || {}; const opt = doc.optimizer;
  const field = (label, control, path, parse, transform) => {
    const id = `edit-${path.join("-")}`;
    control.id = id;
    control.addEventListener("change", () => edit(actions, control, path, parse, transform));
    return el("span", { class: "field" }, el("label", { for: id }, label), control,
      el("span", { class: "inline-error", role: "alert" }));
  };
  // the hidden activations and output functions the server knows (core.activations)
  const functions = (kind) =>
    state.capabilities[kind].map((f) => ({ value: f.name, label: f.label }));
  const menu = (label, path, options, current, transform) =>
    field(label, choice(options, current), path, same, transform);

  panel.append(el("h2", {}, "Network"));
  const layersInput = textInput(net.layers.join(","), { "aria-describedby": "layers-help" });
  panel.append(field("layer sizes d,n₁,…,q", layersInput, ["network", "layers"], parseLayers,
    resize));
  const flat = net.layers.length <= 2;
  const button = (text, change, disabled = false) =>
    el("button", { type: "button", disabled, onclick: () => actions.structural(change) }, text);
  panel.append(el("div", { class: "row", id: "layers-help" },
    button("+ hidden layer", structuralChanges.addLayer),
    button("− hidden layer", structuralChanges.removeLayer, flat),
    button("+ unit (last hidden)", structuralChanges.addUnit, flat),
    button("− unit", structuralChanges.removeUnit, flat || net.layers.at(-2) <= 1),
    el("span", { class: "muted" }, "(new parameters are drawn from network.seed)")));
  panel.append(menu("activation", ["network", "activation"], functions("activations"),
    net.activation || "relu"));
  panel.append(menu("output", ["network", "output"], functions("outputs"),
    net.output || "softmax"));
  panel.append(menu("layout", ["network", "layout"], names(["in_out", "out_in"]),
    net.layout || "in_out", layoutChanged));

  panel.append(el("h2", {}, "Loss and step"));
  panel.append(menu("loss", ["loss", "kind"], names(["cross_entropy", "squared_error"]),
    loss.kind || "cross_entropy", lossKindChanged));
  panel.append(field("ε (label smoothing)", textInput(loss.label_smoothing ?? 0),
    ["loss", "label_smoothing"], number));
  panel.append(menu("smoothing", ["loss", "smoothing"], names(["uniform", "others"]),
    loss.smoothing || "uniform"));
  panel.append(menu("reduction", ["loss", "reduction"], names(["mean", "sum"]),
    loss.reduction || "mean"));
  panel.append(field("η (learning rate)", textInput(opt.learning_rate),
    ["optimizer", "learning_rate"], number));

  panel.append(el("h2", {}, "Data"));
  const x = doc.data.x;
  panel.append(gridEditor(actions, Array.isArray(x[0]) ? "X (one row per instance)" : "x", x,
    ["data", "x"]));
  if (hasLabels(doc)) {
    const label = doc.data.label;
    const shown = Array.isArray(label) ? label.join(",") : label;
    panel.append(field("label (class index)", textInput(shown), ["data", "label"],
      (t) => parseLabels(t, label)));
  } else {
    const y = doc.data.y;
    panel.append(gridEditor(actions, Array.isArray(y[0]) ? "Y" : "y", y, ["data", "y"]));
  }
  panel.append(el("h2", {}, "Parameters"));
  for (const [name, value] of Object.entries(doc.params)) {
    panel.append(gridEditor(actions, name, value, ["params", name]));
  }
}

// Edit one value: the server re-solves; a bad value is marked where it was typed.
async function edit(actions, input, path, parse, transform) {
  const message = input.parentElement.querySelector(".inline-error")
    || input.closest(".edit-block")?.querySelector(".inline-error");
  const mark = (bad, text) => {
    input.classList.toggle("invalid", bad);
    if (message) message.textContent = text;
  };
  actions.stale();  // a step answered after this edit belongs to the problem before it
  let value;
  try { value = parse(input.value); } catch (e) { mark(true, e.message); return; }
  try {
    await actions.edit(path, value, transform);
    mark(false, "");
  } catch (e) { mark(true, e.message); }
}

// options: [{ value, label }]
function choice(options, current) {
  const s = el("select");
  for (const o of options) {
    s.append(el("option", { value: o.value, selected: o.value === current }, o.label));
  }
  return s;
}

function textInput(value, attrs = {}) {
  return el("input", { type: "text", value: String(value), inputmode: "decimal", ...attrs });
}

function gridEditor(actions, label, matrix, path) {
  const vector = !Array.isArray(matrix[0]);
  const rows = vector ? [matrix] : matrix;
  const wrap = el("div", { class: "edit-block" }, el("div", {}, label));
  const grid = el("div", { class: "grid-input", role: "group", "aria-label": label });
  grid.style.gridTemplateColumns = `repeat(${rows[0].length}, auto)`;
  rows.forEach((r, i) => r.forEach((v, j) => {
    const name = `${label}[${vector ? j + 1 : `${i + 1},${j + 1}`}]`;
    const input = el("input",
      { type: "text", inputmode: "decimal", value: String(v), "aria-label": name });
    const where = vector ? [...path, j] : [...path, i, j];
    input.addEventListener("change", () => edit(actions, input, where, number));
    grid.append(input);
  }));
  wrap.append(grid, el("span", { class: "inline-error", role: "alert" }));
  return wrap;
}
