// The handgrad playground. Every number shown comes from the server (/api/...): this page
// draws, formats and edits; it never computes a gradient.
"use strict";

const state = {
  problem: null,      // the current problem document (valid: the last one the server solved)
  start: null,        // the document "Reset" returns to
  result: null,       // the server's /api/solve answer for `problem`
  view: "forward",
  instance: 0,
  selected: null,     // a quantity key ("h1", "dW2", ...), highlighted on both sides
  losses: [],         // loss before the first step, then after each step
  wrongKey: null,     // the grader's first wrong quantity
  playing: null,
  capabilities: null,
  generation: 0,      // bumped by Reset, edits and loads: a step answered later is dropped
};

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// ------------------------------------------------------------------ server calls

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const text = await response.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
  if (!response.ok) {
    let message = data && data.error;
    if (!message && data && Array.isArray(data.detail)) {
      message = data.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
    throw new Error(message || `${response.status} ${response.statusText}`);
  }
  return data;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// -------------------------------------------------------------- state and the URL

function encodeState(doc) {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  let binary = "";
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeState(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function writeUrl() {
  const fragment = "#p=" + encodeState(state.problem);
  history.replaceState(null, "", fragment);
}

// Solve `doc`; on success it becomes the state, on failure the last valid state stays.
async function solve(doc, { keepLosses = false } = {}) {
  const result = await api("/api/solve", { problem: doc });
  state.problem = result.document;
  state.result = result;
  state.wrongKey = null;  // a grade belongs to the problem it was given for
  $("grade-result").replaceChildren();
  if (!keepLosses) state.losses = [result.solution.history[0]];
  state.instance = Math.min(state.instance, batchSize() - 1);
  showError("");
  writeUrl();
  render();
  return result;
}

function batchSize() {
  const x = state.result.problem.data.x;
  return state.result.batched ? x.length : 1;
}

// ------------------------------------------------------------------- formatting

function fmt(v, digits = 4) {
  if (typeof v !== "number" || !isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(digits - 1).replace("e", "×10^");
  return String(Number(v.toPrecision(digits)));
}

function texNumber(v, digits = 5) {
  const s = fmt(v, digits);
  return s.includes("×10^") ? s.replace(/×10\^([-+]?\d+)/, (_, e) => `\\times 10^{${Number(e)}}`) : s;
}

function texValue(value, digits = 5) {
  if (typeof value === "number") return texNumber(value, digits);
  const rows = Array.isArray(value[0]) ? value : value.map((v) => [v]);
  const shown = rows.length > 12 ? [...rows.slice(0, 5), null, ...rows.slice(-5)] : rows;
  const body = shown.map((row) => row === null ? "\\vdots" : (row.length > 10
    ? [...row.slice(0, 4), "\\cdots", ...row.slice(-4)] : row)
    .map((v) => typeof v === "string" ? v : texNumber(v, digits)).join(" & ")).join(" \\\\ ");
  return `\\begin{bmatrix} ${body} \\end{bmatrix}`;
}

function katexInto(element, tex, display = false) {
  if (window.katex) {
    try { window.katex.render(tex, element, { displayMode: display, throwOnError: false }); return; }
    catch (e) { /* fall through to the plain text */ }
  }
  element.textContent = tex;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ------------------------------------------------------------- quantities lookup

function quantity(key, section) {
  return state.result.quantities.find((q) => q.key === key && (!section || q.section === section));
}

// a per-instance quantity's row for the chosen instance (vectors as they are)
function row(key, section) {
  const q = quantity(key, section);
  if (!q) return null;
  if (state.result.batched && Array.isArray(q.value) && Array.isArray(q.value[0])) {
    return q.value[state.instance];
  }
  return q.value;
}

function param(name) { return state.result.problem.params[name]; }

function weight(layer, i, j, grad = false) {
  const W = grad ? quantity(`dW${layer}`, "backward").value : param(`W${layer}`);
  return state.result.problem.network.layout === "in_out" ? W[i][j] : W[j][i];
}

function inputRow() {
  const x = state.result.problem.data.x;
  return state.result.batched ? x[state.instance] : x;
}

// ------------------------------------------------------------------- the network

function drawNetwork() {
  const svg = $("net");
  svg.replaceChildren();
  const net = state.result.problem.network;
  const layers = net.layers;
  const L = layers.length - 1;
  // the drawing's units are the screen's pixels (within bounds), so text stays readable
  const width = Math.max(340, Math.min(900, svg.clientWidth || 720));
  const tallest = Math.max(...layers);
  const gap = tallest > 12 ? 30 : 70;
  const height = Math.max(220, 100 + tallest * gap);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = layers.map((_, l) => 60 + (l * (width - 120)) / L);
  // each layer's neurons spread evenly over the height (a single one in the middle)
  const pos = layers.map((n, l) => Array.from({ length: n }, (_, k) =>
    [xs[l], n === 1 ? height / 2 : 45 + ((height - 95) * k) / (n - 1)]));
  // edges first, under the neurons
  const backward = state.view === "backward";
  let biggest = 1e-12;
  for (let l = 1; l <= L; l++) {
    for (let i = 0; i < layers[l - 1]; i++) {
      for (let j = 0; j < layers[l]; j++) biggest = Math.max(biggest, Math.abs(weight(l, i, j, backward)));
    }
  }
  const dense = layers.some((n) => n > 16);
  for (let l = 1; l <= L; l++) {
    for (let i = 0; i < layers[l - 1]; i++) {
      for (let j = 0; j < layers[l]; j++) {
        const value = weight(l, i, j, backward);
        const [x1, y1] = pos[l - 1][i];
        const [x2, y2] = pos[l][j];
        const line = document.createElementNS(SVG, "line");
        Object.entries({ x1, y1, x2, y2 }).forEach(([k, v]) => line.setAttribute(k, v));
        line.setAttribute("class", `edge layer${l}`);
        line.setAttribute("stroke", value >= 0 ? "var(--pos)" : "var(--neg)");
        line.setAttribute("stroke-width", (0.5 + 5 * Math.abs(value) / biggest).toFixed(2));
        line.setAttribute("stroke-opacity", (0.25 + 0.6 * Math.abs(value) / biggest).toFixed(2));
        line.dataset.layer = l; line.dataset.i = i; line.dataset.j = j;
        if (!dense) line.setAttribute("tabindex", "0");
        line.setAttribute("aria-label", edgeLabel(l, i, j));
        line.addEventListener("mouseenter", () => showTip(line, edgeTip(l, i, j)));
        line.addEventListener("focus", () => showTip(line, edgeTip(l, i, j)));
        line.addEventListener("click", () => { select(backward ? `dW${l}` : `W${l}`); showTip(line, edgeTip(l, i, j)); });
        line.addEventListener("mouseleave", hideTip);
        line.addEventListener("blur", hideTip);
        svg.append(line);
      }
    }
  }
  for (let l = 0; l <= L; l++) {
    const title = document.createElementNS(SVG, "text");
    title.setAttribute("x", xs[l]); title.setAttribute("y", 18);
    title.setAttribute("class", "layer-title");
    title.textContent = l === 0 ? "input x" : l === L ? `output (${net.output})` : `hidden ${l} (${net.activation})`;
    svg.append(title);
    for (let k = 0; k < layers[l]; k++) {
      const [cx, cy] = pos[l][k];
      const g = document.createElementNS(SVG, "g");
      g.setAttribute("class", `node layer${l}`);
      g.setAttribute("tabindex", "0");
      g.dataset.layer = l; g.dataset.k = k;
      const r = dense ? 9 : 20;
      const circle = document.createElementNS(SVG, "circle");
      circle.setAttribute("cx", cx); circle.setAttribute("cy", cy); circle.setAttribute("r", r);
      g.append(circle);
      if (!dense) {
        const [top, bottom, under] = nodeLabels(l, k);
        for (const [text, dy, cls] of [[top, -3, "name"], [bottom, 11, "value"], [under, r + 13, "pre"]]) {
          if (!text) continue;
          const t = document.createElementNS(SVG, "text");
          t.setAttribute("x", cx); t.setAttribute("y", cy + dy); t.setAttribute("class", cls);
          t.textContent = text;
          g.append(t);
        }
      }
      g.setAttribute("aria-label", nodeTip(l, k).text);
      g.addEventListener("mouseenter", () => showTip(g, nodeTip(l, k)));
      g.addEventListener("focus", () => showTip(g, nodeTip(l, k)));
      g.addEventListener("click", () => { select(nodeKey(l)); showTip(g, nodeTip(l, k)); });
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(nodeKey(l)); } });
      g.addEventListener("mouseleave", hideTip);
      g.addEventListener("blur", hideTip);
      svg.append(g);
    }
  }
  applyHighlights();
}

function nodeKey(l) {
  const L = state.result.problem.network.layers.length - 1;
  if (l === 0) return null;
  if (state.view === "backward") return l === L ? "dz" : `dh${l}`;
  return l === L ? "yhat" : `a${l}`;
}

function nodeLabels(l, k) {
  const L = state.result.problem.network.layers.length - 1;
  // inside the circle the name and value; under it the other quantity of the same neuron
  if (l === 0) return [`x${k + 1}`, fmt(inputRow()[k], 3), ""];
  if (state.view === "backward") {
    if (l === L) return [`∂z${k + 1}`, fmt(row("dz", "backward")[k], 3), ""];
    return [`∂h${k + 1}`, fmt(row(`dh${l}`, "backward")[k], 3), `∂a ${fmt(row(`da${l}`, "backward")[k], 3)}`];
  }
  if (l === L) return [`ŷ${k + 1}`, fmt(row("yhat", "forward")[k], 3), `z ${fmt(row("z", "forward")[k], 3)}`];
  return [`a${k + 1}`, fmt(row(`a${l}`, "forward")[k], 3), `h ${fmt(row(`h${l}`, "forward")[k], 3)}`];
}

function edgeLabel(l, i, j) {
  return `W${l}[${i + 1},${j + 1}] = ${fmt(weight(l, i, j))}, ∂L/∂W${l}[${i + 1},${j + 1}] = ${fmt(weight(l, i, j, true))}`;
}

// The tooltip: the value, its formula with the numbers filled in, and where it came from.
function nodeTip(l, k) {
  const net = state.result.problem.network;
  const L = net.layers.length - 1;
  const n = k + 1;
  if (l === 0) return { text: `x${n} = ${fmt(inputRow()[k], 6)}`, tex: `x_{${n}} = ${texNumber(inputRow()[k], 6)}`, where: "given" };
  const below = l === 1 ? inputRow() : row(`a${l - 1}`, "forward");
  const name = l === L ? "z" : `h${l}`;
  const pre = row(name, "forward")[k];
  const b = param(`b${l}`)[k];
  const terms = below.map((a, i) => `(${texNumber(weight(l, i, k), 4)})(${texNumber(a, 4)})`);
  const shownTerms = terms.length > 4 ? [...terms.slice(0, 2), "\\cdots", ...terms.slice(-1)] : terms;
  const inName = l === 1 ? "x" : `a^{(${l - 1})}`;
  const sym = l === L ? `z_{${n}}` : `h^{(${l})}_{${n}}`;
  if (state.view === "backward") {
    const key = l === L ? "dz" : `dh${l}`;
    const value = row(key, "backward")[k];
    if (l === L) {
      const q = quantity("dz", "backward");
      return { text: `∂L/∂z${n} = ${fmt(value, 6)}`, tex: `\\frac{\\partial L}{\\partial z_{${n}}} = ${texNumber(value, 6)}`,
        where: `${q.formula}: from ŷ and the target` };
    }
    const da = row(`da${l}`, "backward")[k];
    return {
      text: `∂L/∂h${n} of hidden layer ${l} = ${fmt(value, 6)}`,
      tex: `\\frac{\\partial L}{\\partial h^{(${l})}_{${n}}} = \\frac{\\partial L}{\\partial a^{(${l})}_{${n}}} f'(h^{(${l})}_{${n}}) = (${texNumber(da, 4)})\\,f'(${texNumber(row(`h${l}`, "forward")[k], 4)}) = ${texNumber(value, 6)}`,
      where: `from ∂L/∂a${l} (the next layer's gradients through W${l + 1}) and the activation's derivative`,
    };
  }
  const post = l === L ? row("yhat", "forward")[k] : row(`a${l}`, "forward")[k];
  const postSym = l === L ? `\\hat y_{${n}}` : `a^{(${l})}_{${n}}`;
  return {
    text: `${l === L ? "z" : "h"}${n} = ${fmt(pre, 6)}, ${l === L ? "ŷ" : "a"}${n} = ${fmt(post, 6)}`,
    tex: `${sym} = \\sum_i W^{(${l})}_{i${n}} ${inName}_i + b^{(${l})}_{${n}} = ${shownTerms.join(" + ")} + (${texNumber(b, 4)}) = ${texNumber(pre, 6)}, \\quad ${postSym} = ${texNumber(post, 6)}`,
    where: l === L ? `ŷ = ${net.output}(z) over the whole output layer` : `a = ${net.activation}(h)`,
  };
}

function edgeTip(l, i, j) {
  const w = weight(l, i, j);
  const g = weight(l, i, j, true);
  const eta = state.result.problem.optimizer.learning_rate;
  const L = state.result.problem.network.layers.length - 1;
  const inVal = l === 1 ? inputRow()[i] : row(`a${l - 1}`, "forward")[i];
  const up = l === L ? row("dz", "backward")[j] : row(`dh${l}`, "backward")[j];
  const newW = quantity(`W${l}`, "update");
  const nw = state.result.problem.network.layout === "in_out" ? newW.value[i][j] : newW.value[j][i];
  const idx = `${i + 1}${j + 1}`;
  const inName = l === 1 ? `x_{${i + 1}}` : `a^{(${l - 1})}_{${i + 1}}`;
  const upName = l === L ? `\\partial L/\\partial z_{${j + 1}}` : `\\partial L/\\partial h^{(${l})}_{${j + 1}}`;
  const batchNote = state.result.batched ? " (summed over the batch; this instance's term shown)" : "";
  return {
    text: `W${l}[${i + 1},${j + 1}] = ${fmt(w, 6)}; ∂L/∂W = ${fmt(g, 6)}; after the step ${fmt(nw, 6)}`,
    tex: `W^{(${l})}_{${idx}} = ${texNumber(w, 6)},\\quad \\frac{\\partial L}{\\partial W^{(${l})}_{${idx}}} = ${inName}\\,${upName} = (${texNumber(inVal, 4)})(${texNumber(up, 4)}) \\to ${texNumber(g, 6)},\\quad W \\leftarrow ${texNumber(w, 4)} - ${texNumber(eta, 3)}\\cdot(${texNumber(g, 4)}) = ${texNumber(nw, 6)}`,
    where: `weight from unit ${i + 1} of layer ${l - 1} to unit ${j + 1} of layer ${l}${batchNote}`,
  };
}

function showTip(target, tip) {
  const box = $("tooltip");
  box.replaceChildren();
  const math = el("div");
  katexInto(math, tip.tex);
  box.append(math, el("div", { class: "where" }, tip.where));
  box.hidden = false;
  const figure = box.parentElement.getBoundingClientRect();
  const rect = target.getBoundingClientRect();
  const left = Math.min(Math.max(0, rect.left - figure.left + rect.width / 2 - 120), figure.width - 260);
  box.style.left = `${Math.max(0, left)}px`;
  box.style.top = `${rect.bottom - figure.top + 6}px`;
}

function hideTip() { $("tooltip").hidden = true; }

// the network parts that belong to a quantity key
function partsOf(key) {
  if (!key) return [];
  const m = key.match(/^(d?)([A-Za-z]+)(\d*)$/);
  if (!m) return [];
  const [, , base, num] = m;
  const L = state.result.problem.network.layers.length - 1;
  if (base === "W") return [...document.querySelectorAll(`#net .edge.layer${num}`)];
  if (["b", "h", "a"].includes(base)) return [...document.querySelectorAll(`#net .node.layer${num}`)];
  if (["z", "yhat", "ys"].includes(base)) return [...document.querySelectorAll(`#net .node.layer${L}`)];
  if (base === "loss") return [...document.querySelectorAll(`#net .node.layer${L}`)];
  return [];
}

function applyHighlights() {
  document.querySelectorAll("#net .highlight, #net .wrong").forEach((n) => n.classList.remove("highlight", "wrong"));
  partsOf(state.selected).forEach((n) => n.classList.add("highlight"));
  partsOf(state.wrongKey).forEach((n) => n.classList.add("wrong"));
  document.querySelectorAll(".quantity").forEach((b) => {
    b.classList.toggle("selected", b.dataset.key === state.selected);
    b.classList.toggle("wrong", b.dataset.key === state.wrongKey);
  });
}

function select(key) {
  state.selected = key;
  applyHighlights();
  const button = document.querySelector(`.quantity[data-key="${key}"]`);
  if (button && !$("panel-solution").hidden) button.scrollIntoView({ block: "nearest" });
}

// ----------------------------------------------------------------- the solution

function drawSolution() {
  const panel = $("panel-solution");
  panel.replaceChildren();
  const sol = state.result.solution;
  const titles = { forward: "Forward pass", backward: "Backward pass", update: `Update: θ ← θ − η ∂L/∂θ, η = ${state.result.problem.optimizer.learning_rate}` };
  for (const section of ["forward", "backward", "update"]) {
    panel.append(el("h2", {}, titles[section]));
    for (const q of state.result.quantities.filter((q) => q.section === section)) {
      const dataKey = q.key;
      const button = el("button", { class: "quantity", type: "button", "data-key": dataKey, "data-section": section,
        "data-value": JSON.stringify(q.value),
        "aria-label": `${q.symbol} ${q.relation} ${q.formula}` });
      const math = el("span");
      const relation = q.relation === "←" ? "\\leftarrow" : "=";
      katexInto(math, `${q.symbol_latex} ${relation} ${q.formula_latex} = ${texValue(q.value)}`);
      button.append(math);
      if (q.note) button.append(el("span", { class: "note" }, q.note));
      button.addEventListener("click", () => select(dataKey));
      panel.append(button);
    }
  }
  panel.append(el("h2", {}, "Loss"));
  const h = sol.history;
  panel.append(el("p", {}, `Before the step L = ${fmt(h[0], 6)}; after it L = ${fmt(h[h.length - 1], 6)}.`));
  panel.append(el("h2", {}, "Gradient check"));
  const table = el("table", {}, el("tr", {}, el("th", {}, "gradient"), el("th", {}, "method"), el("th", {}, "relative error")));
  for (const [method, errors] of Object.entries(sol.checks)) {
    for (const [name, value] of Object.entries(errors)) {
      const err = typeof value === "object" && value !== null ? value.error ?? value.relative_error ?? JSON.stringify(value) : value;
      table.append(el("tr", {}, el("td", {}, name), el("td", {}, method.replace("_", " ")), el("td", { class: "num" }, typeof err === "number" ? err.toExponential(1) : String(err))));
    }
  }
  panel.append(table);
}

// -------------------------------------------------------------------- editing

function clone(x) { return JSON.parse(JSON.stringify(x)); }

function setPath(doc, path, value) {
  let node = doc;
  for (let i = 0; i < path.length - 1; i++) {
    if (node[path[i]] === undefined || node[path[i]] === null) node[path[i]] = {};
    node = node[path[i]];
  }
  node[path[path.length - 1]] = value;
}

// Edit one value: the server re-solves; a bad value is marked where it was typed.
async function edit(input, path, parse, transform) {
  state.generation += 1;
  const message = input.parentElement.querySelector(".inline-error") || input.closest(".edit-block")?.querySelector(".inline-error");
  let value;
  try { value = parse(input.value); } catch (e) {
    input.classList.add("invalid");
    if (message) message.textContent = e.message;
    return;
  }
  const doc = clone(state.problem);
  setPath(doc, path, value);
  if (transform) transform(doc);
  try {
    await solve(doc, { keepLosses: false });
    input.classList.remove("invalid");
    if (message) message.textContent = "";
  } catch (e) {
    input.classList.add("invalid");
    if (message) message.textContent = e.message;
  }
}

const number = (text) => {
  const v = Number(String(text).trim());
  if (String(text).trim() === "" || !isFinite(v)) throw new Error(`'${text}' is not a number`);
  return v;
};

function field(label, control, path, parse, transform) {
  const id = `edit-${path.join("-")}`;
  control.id = id;
  control.addEventListener("change", () => edit(control, path, parse, transform));
  return el("span", { class: "field" }, el("label", { for: id }, label), control, el("span", { class: "inline-error", role: "alert" }));
}

function choice(options, current) {
  const s = el("select");
  for (const o of options) s.append(el("option", { value: o, selected: o === current }, o));
  return s;
}

function textInput(value, attrs = {}) { return el("input", { type: "text", value: String(value), inputmode: "decimal", ...attrs }); }

function gridEditor(label, matrix, path) {
  const rows = Array.isArray(matrix[0]) ? matrix : [matrix];
  const vector = !Array.isArray(matrix[0]);
  const wrap = el("div", { class: "edit-block" }, el("div", {}, label));
  const grid = el("div", { class: "grid-input", role: "group", "aria-label": label });
  grid.style.gridTemplateColumns = `repeat(${rows[0].length}, auto)`;
  rows.forEach((r, i) => r.forEach((v, j) => {
    const input = el("input", { type: "text", inputmode: "decimal", value: String(v), "aria-label": `${label}[${vector ? j + 1 : `${i + 1},${j + 1}`}]` });
    const where = vector ? [...path, j] : [...path, i, j];
    input.addEventListener("change", () => edit(input, where, number));
    grid.append(input);
  }));
  wrap.append(grid, el("span", { class: "inline-error", role: "alert" }));
  return wrap;
}

// Changing the layer sizes redraws the parameters from network.seed (the server does it) and
// fits x and y to the new input and output sizes.
function resize(doc) {
  const layers = doc.network.layers;
  delete doc.params;
  const fit = (v, n) => Array.from({ length: n }, (_, i) => (v && v[i] !== undefined ? v[i] : 0));
  const batched = Array.isArray(doc.data.x[0]);
  doc.data.x = batched ? doc.data.x.map((r) => fit(r, layers[0])) : fit(doc.data.x, layers[0]);
  const q = layers[layers.length - 1];
  if (doc.data.label !== undefined && doc.data.label !== null) {
    const clamp = (c) => Math.min(c, q - 1);
    doc.data.label = Array.isArray(doc.data.label) ? doc.data.label.map(clamp) : clamp(doc.data.label);
  } else {
    const onehot = (r) => { const k = Math.max(0, Math.min(q - 1, (r || []).indexOf(Math.max(...(r || [1]))))); return fit([], q).map((_, i) => (i === k ? 1 : 0)); };
    doc.data.y = Array.isArray(doc.data.y[0]) ? doc.data.y.map(onehot) : onehot(doc.data.y);
  }
}

function parseLayers(text) {
  const parts = String(text).split(",").map((p) => p.trim());
  const sizes = parts.map(Number);
  if (parts.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error("give positive integer sizes separated by commas, e.g. 2,3,3");
  }
  return sizes;
}

function drawEditor() {
  const panel = $("panel-edit");
  panel.replaceChildren();
  const doc = state.problem;
  const net = doc.network; const loss = doc.loss || {}; const opt = doc.optimizer;
  panel.append(el("h2", {}, "Network"));
  const layersInput = textInput(net.layers.join(","), { "aria-describedby": "layers-help" });
  panel.append(field("layer sizes d,n₁,…,q", layersInput, ["network", "layers"], parseLayers, resize));
  const addLayer = el("button", { type: "button" }, "+ hidden layer");
  addLayer.addEventListener("click", () => structural((d) => { d.network.layers.splice(d.network.layers.length - 1, 0, 3); }));
  const removeLayer = el("button", { type: "button", disabled: net.layers.length <= 2 }, "− hidden layer");
  removeLayer.addEventListener("click", () => structural((d) => { if (d.network.layers.length > 2) d.network.layers.splice(d.network.layers.length - 2, 1); }));
  const addUnit = el("button", { type: "button", disabled: net.layers.length <= 2 }, "+ unit (last hidden)");
  addUnit.addEventListener("click", () => structural((d) => { d.network.layers[d.network.layers.length - 2] += 1; }));
  const removeUnit = el("button", { type: "button", disabled: net.layers.length <= 2 || net.layers[net.layers.length - 2] <= 1 }, "− unit");
  removeUnit.addEventListener("click", () => structural((d) => { d.network.layers[d.network.layers.length - 2] -= 1; }));
  panel.append(el("div", { class: "row", id: "layers-help" }, addLayer, removeLayer, addUnit, removeUnit,
    el("span", { class: "muted" }, "(new parameters are drawn from network.seed)")));
  panel.append(field("activation", choice(["relu", "leaky_relu", "sigmoid", "tanh", "identity"], net.activation || "relu"), ["network", "activation"], (v) => v));
  panel.append(field("output", choice(["softmax", "sigmoid", "identity"], net.output || "softmax"), ["network", "output"], (v) => v));
  panel.append(field("layout", choice(["in_out", "out_in"], net.layout || "in_out"), ["network", "layout"], (v) => v, (d) => { delete d.params; }));
  panel.append(el("h2", {}, "Loss and step"));
  panel.append(field("loss", choice(["cross_entropy", "squared_error"], loss.kind || "cross_entropy"), ["loss", "kind"], (v) => v,
    (d) => { if (d.loss.kind !== "cross_entropy") { d.loss.label_smoothing = 0; d.loss.smoothing = "uniform"; if (d.data.label !== undefined) { /* labels need softmax */ } } }));
  panel.append(field("ε (label smoothing)", textInput(loss.label_smoothing ?? 0), ["loss", "label_smoothing"], number));
  panel.append(field("smoothing", choice(["uniform", "others"], loss.smoothing || "uniform"), ["loss", "smoothing"], (v) => v));
  panel.append(field("reduction", choice(["mean", "sum"], loss.reduction || "mean"), ["loss", "reduction"], (v) => v));
  panel.append(field("η (learning rate)", textInput(opt.learning_rate), ["optimizer", "learning_rate"], number));
  panel.append(el("h2", {}, "Data"));
  panel.append(gridEditor(Array.isArray(doc.data.x[0]) ? "X (one row per instance)" : "x", doc.data.x, ["data", "x"]));
  if (doc.data.label !== undefined && doc.data.label !== null) {
    panel.append(field("label (class index)", textInput(Array.isArray(doc.data.label) ? doc.data.label.join(",") : doc.data.label), ["data", "label"],
      (t) => { const v = String(t).split(",").map((s) => number(s)); return v.length === 1 && !Array.isArray(doc.data.label) ? v[0] : v; }));
  } else {
    panel.append(gridEditor(Array.isArray(doc.data.y[0]) ? "Y" : "y", doc.data.y, ["data", "y"]));
  }
  panel.append(el("h2", {}, "Parameters"));
  for (const [name, value] of Object.entries(doc.params)) panel.append(gridEditor(name, value, ["params", name]));
}

async function structural(change) {
  state.generation += 1;
  const doc = clone(state.problem);
  change(doc);
  resize(doc);
  try { await solve(doc); } catch (e) { showError(e.message); }
}

// -------------------------------------------------------------------- stepping

async function takeSteps(n) {
  const generation = state.generation;
  try {
    const before = state.problem.params;
    const stepped = await api("/api/step", { problem: state.problem, steps: n });
    if (generation !== state.generation) return;  // reset or edited meanwhile
    const losses = stepped.losses;
    const kept = state.losses.slice();
    await solve(stepped.problem, { keepLosses: true });
    state.losses = kept.concat(losses.slice(1));
    drawLossCurve();
    flashChanges(before);
  } catch (e) { showError(e.message); stopPlaying(); }
}

function flashChanges(before) {
  const after = state.problem.params;
  const L = state.problem.network.layers.length - 1;
  for (let l = 1; l <= L; l++) {
    const changed = JSON.stringify(before[`W${l}`]) !== JSON.stringify(after[`W${l}`]);
    if (changed) document.querySelectorAll(`#net .edge.layer${l}`).forEach((e) => e.classList.add("changed"));
  }
}

function stopPlaying() {
  if (state.playing) { clearInterval(state.playing); state.playing = null; }
  $("play").textContent = "Play"; $("play").setAttribute("aria-pressed", "false");
}

function drawLossCurve() {
  const svg = $("loss-curve");
  svg.replaceChildren();
  const w = 600; const h = 140; const pad = 34;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const losses = state.losses;
  document.body.classList.toggle("stepped", losses.length > 1);  // print the curve only then
  $("loss-now").textContent = losses.length ? `L = ${fmt(losses[losses.length - 1], 6)} after ${losses.length - 1} step${losses.length === 2 ? "" : "s"}` : "";
  const axis = document.createElementNS(SVG, "path");
  axis.setAttribute("d", `M${pad},8 V${h - 20} H${w - 8}`); axis.setAttribute("class", "axis"); axis.setAttribute("fill", "none");
  svg.append(axis);
  if (losses.length < 1) return;
  const hi = Math.max(...losses); const lo = Math.min(...losses);
  const span = hi - lo || 1;
  const n = Math.max(1, losses.length - 1);
  const points = losses.map((v, i) => `${pad + ((w - pad - 12) * i) / n},${8 + (h - 30) * (1 - (v - lo) / span)}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.join(" ")); line.setAttribute("class", "curve");
  svg.append(line);
  for (const [text, y] of [[fmt(hi, 4), 14], [fmt(lo, 4), h - 22]]) {
    const t = document.createElementNS(SVG, "text"); t.setAttribute("x", 2); t.setAttribute("y", y); t.textContent = text; svg.append(t);
  }
  const t = document.createElementNS(SVG, "text"); t.setAttribute("x", w - 60); t.setAttribute("y", h - 4); t.textContent = `${losses.length - 1} steps`; svg.append(t);
}

// --------------------------------------------------------------------- grading

function answerTemplate() {
  const lines = [];
  for (const section of ["forward", "backward", "update"]) {
    lines.push(`[${section}]`);
    for (const q of state.result.quantities.filter((q) => q.section === section)) {
      lines.push(`# ${q.key} = ...   (shape ${q.shape.length ? q.shape.join("×") : "a number"})`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

async function gradeAnswer() {
  const out = $("grade-result");
  out.replaceChildren();
  const decimalsText = $("decimals").value.trim();
  const body = { problem: state.problem, answer_text: $("answer").value, rtol: Number($("rtol").value) || 0.001 };
  if (decimalsText !== "") body.decimals = Number(decimalsText);
  try {
    const report = await api("/api/grade", body);
    const s = report.summary;
    out.append(el("p", { id: "grade-summary" }, `${s.correct} correct, ${s.carried_forward} carried forward, ${s.wrong} wrong, ${s.missing} missing (${report.tolerance}).`));
    const table = el("table", {}, el("tr", {}, el("th", {}, "quantity"), el("th", {}, "verdict"), el("th", {}, "likely cause")));
    for (const item of report.items) {
      table.append(el("tr", { "data-key": item.name },
        el("td", {}, `${item.section}.${item.name}`),
        el("td", { class: `status-${item.status}` }, item.status.replace("_", " ")),
        el("td", {}, item.cause || "")));
    }
    out.append(table);
    const first = report.items.find((i) => i.status === "wrong");
    state.wrongKey = first ? first.name : null;
    if (first) {
      const box = el("div", { class: "first-wrong", id: "first-wrong" }, el("strong", {}, `First wrong step: ${first.section}.${first.name}`));
      const math = el("div"); katexInto(math, `\\text{expected } ${texValue(first.expected)} \\quad \\text{given } ${texValue(first.given)}`, true);
      box.append(math, el("p", {}, first.cause ? `Likely cause (${first.cause}): ${first.explanation}.` : first.explanation));
      out.append(box);
    } else {
      out.append(el("p", { class: "status-correct" }, "No wrong step."));
    }
    applyHighlights();
  } catch (e) {
    out.append(el("p", { class: "error", role: "alert" }, e.message));
  }
}

// ------------------------------------------------------------------ derivation

async function drawDerivation() {
  const panel = $("panel-derivation");
  panel.replaceChildren(el("p", { class: "muted" }, "Deriving and verifying with sympy…"));
  try {
    const d = await api("/api/derive", { problem: state.problem });
    panel.replaceChildren(el("p", {}, d.verified ? "Every step verified with sympy." : "Some steps could not be verified."));
    for (const step of d.steps) {
      const box = el("div", { class: "derivation-step" });
      const head = el("div", {}, el("strong", {}, step.quantity),
        step.verified ? el("span", { class: "badge ok" }, "✓ verified") : null,
        step.shape ? el("span", { class: "badge" }, step.shape) : null);
      const math = el("div"); katexInto(math, step.latex, true);
      box.append(head, math);
      if (step.note) box.append(el("p", { class: "muted" }, step.note));
      panel.append(box);
    }
    panel.dataset.for = JSON.stringify(state.problem.network) + JSON.stringify(state.problem.loss || {});
  } catch (e) { panel.replaceChildren(el("p", { class: "error" }, e.message)); }
}

// ---------------------------------------------------------------------- render

function render() {
  const net = state.result.problem.network;
  const loss = state.result.problem.loss;
  $("summary").textContent = `${state.result.problem.title || "problem"} · ${net.layers.join(" → ")} · ${net.activation} · ${net.output} · ${loss.kind === "cross_entropy" ? `cross-entropy, ε = ${loss.label_smoothing}` : "squared error"} · η = ${state.result.problem.optimizer.learning_rate}`;
  const instances = batchSize();
  $("instance-label").hidden = instances <= 1;
  const select = $("instance");
  select.replaceChildren(...Array.from({ length: instances }, (_, i) => el("option", { value: i, selected: i === state.instance }, String(i + 1))));
  drawNetwork();
  drawSolution();
  drawEditor();
  drawLossCurve();
  applyHighlights();
  if (!$("panel-derivation").hidden) drawDerivation();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const activate = (tab) => {
    tabs.forEach((t) => {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    });
    if (tab.id === "tab-derivation") drawDerivation();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => activate(tab));
    tab.addEventListener("keydown", (e) => {
      const next = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (next) { const t = tabs[(i + next + tabs.length) % tabs.length]; t.focus(); activate(t); }
    });
  });
}

async function download(format) {
  try {
    const response = await fetch("/api/export", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ problem: state.problem, format }) });
    if (!response.ok) { const data = await response.json().catch(() => ({})); throw new Error(data.error || response.statusText); }
    const blob = await response.blob();
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const link = el("a", { href: URL.createObjectURL(blob), download: name ? name[1] : `handgrad.${format}` });
    document.body.append(link); link.click(); link.remove();
  } catch (e) { showError(e.message); }
}

async function main() {
  setupTabs();
  document.querySelectorAll("input[name=view]").forEach((r) => r.addEventListener("change", () => { state.view = r.value; drawNetwork(); }));
  $("instance").addEventListener("change", (e) => { state.instance = Number(e.target.value); drawNetwork(); });
  $("step").addEventListener("click", () => takeSteps(1));
  $("step-n").addEventListener("click", () => {
    const n = Math.max(1, Math.min(500, Math.round(Number($("step-count").value) || 1)));
    takeSteps(n);
  });
  $("play").addEventListener("click", () => {
    if (state.playing) { stopPlaying(); return; }
    $("play").textContent = "Pause"; $("play").setAttribute("aria-pressed", "true");
    let busy = false;
    state.playing = setInterval(async () => { if (busy) return; busy = true; await takeSteps(1); busy = false; }, 350);
  });
  $("reset").addEventListener("click", async () => { stopPlaying(); state.generation += 1; try { await solve(state.start); } catch (e) { showError(e.message); } });
  $("grade").addEventListener("click", gradeAnswer);
  $("fill-answer").addEventListener("click", () => { $("answer").value = answerTemplate(); });
  $("copy-link").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); $("copy-link").textContent = "Link copied"; }
    catch (e) { showError(`copy this address: ${location.href}`); }
  });
  document.querySelectorAll("[data-export]").forEach((b) => b.addEventListener("click", () => download(b.dataset.export)));
  $("variant").addEventListener("click", async () => {
    try {
      const seed = Math.floor(Math.random() * 1e9);
      stopPlaying(); state.generation += 1;
      const made = await api("/api/generate", { seed, layers: state.problem.network.layers.length <= 4 && Math.max(...state.problem.network.layers) <= 8 ? state.problem.network.layers : [2, 3, 3] });
      state.start = made.problem; await solve(made.problem);
    } catch (e) { showError(e.message); }
  });
  // the three start-up questions at once; the first solution is drawn as soon as it can be
  const [examples, capabilities, started] = await Promise.all([
    api("/api/examples"), api("/api/capabilities"),
    location.hash.startsWith("#p=") ? Promise.resolve(null) : api("/api/start"),
  ]);
  const picker = $("examples");
  picker.append(el("option", { value: "" }, "choose…"));
  examples.forEach((ex, i) => picker.append(el("option", { value: i }, ex.title)));
  picker.addEventListener("change", async () => {
    if (picker.value === "") return;
    const doc = examples[Number(picker.value)].problem;
    stopPlaying(); state.generation += 1;
    state.start = doc; state.instance = 0;
    try { await solve(doc); } catch (e) { showError(e.message); }
  });
  state.capabilities = capabilities;
  $("export-pdf").disabled = !state.capabilities.pdf;
  if (!state.capabilities.pdf) $("export-pdf").title = "needs pdflatex on the server";
  let doc = null;
  const hash = location.hash.match(/^#p=([A-Za-z0-9_-]+)$/);
  if (hash) {
    try { doc = decodeState(hash[1]); } catch (e) { showError("the link's problem could not be read; showing the start problem"); }
  }
  if (!doc) doc = (started || (await api("/api/start"))).problem;
  state.start = doc;
  try { await solve(doc); } catch (e) {
    showError(`${e.message} (showing the start problem instead)`);
    doc = (await api("/api/start")).problem; state.start = doc; await solve(doc);
  }
  document.body.dataset.readyAt = String(Math.round(performance.now()));
  document.body.dataset.ready = "true";
}

window.addEventListener("DOMContentLoaded", () => { main().catch((e) => showError(e.message)); });
