// The network drawing: neurons and weighted edges, their tooltips, and the highlights that
// tie them to the solution panel and the grader. Reads the state; computes nothing.
import { $, el, katexInto, svg } from "./dom.mjs";
import { fmt, shorterForms } from "./format.mjs";
import { boxInCircle, chordWidth, edgeStyle, networkLayout, tooltipPlace } from "./geometry.mjs";
import { depth, nodeKey, partSelectors, weight } from "./quantities.mjs";
import { edgeLabel, edgeTip, nodeLabels, nodeTip, tipLabel } from "./tooltips.mjs";

export function drawNetwork(state) {
  const box = $("net");
  box.replaceChildren();
  const result = state.result;
  const net = result.problem.network;
  const layers = net.layers;
  const L = depth(result);
  const { width, height, xs, pos, dense, radius, underWidth } =
    networkLayout(layers, box.clientWidth);
  box.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const backward = state.view === "backward";
  let biggest = 1e-12;
  for (let l = 1; l <= L; l++) {
    for (let i = 0; i < layers[l - 1]; i++) {
      for (let j = 0; j < layers[l]; j++) {
        biggest = Math.max(biggest, Math.abs(weight(result, l, i, j, backward)));
      }
    }
  }
  // edges first, under the neurons
  for (let l = 1; l <= L; l++) {
    for (let i = 0; i < layers[l - 1]; i++) {
      for (let j = 0; j < layers[l]; j++) {
        const [x1, y1] = pos[l - 1][i];
        const [x2, y2] = pos[l][j];
        const style = edgeStyle(weight(result, l, i, j, backward), biggest);
        const line = svg("line", { x1, y1, x2, y2, class: `edge layer${l}`, stroke: style.stroke,
          "stroke-width": style.width, "stroke-opacity": style.opacity });
        line.dataset.layer = l; line.dataset.i = i; line.dataset.j = j;
        if (!dense) line.setAttribute("tabindex", "0");
        line.setAttribute("aria-label", edgeLabel(result, l, i, j));
        const tip = () => edgeTip(result, l, i, j);
        hoverable(line, tip, () => select(state, backward ? `dW${l}` : `W${l}`));
        box.append(line);
      }
    }
  }
  for (let l = 0; l <= L; l++) {
    const title = svg("text", { x: xs[l], y: 18, class: "layer-title" });
    title.textContent = l === 0 ? "input x"
      : l === L ? `output (${net.output})` : `hidden ${l} (${net.activation})`;
    box.append(title);
    for (let k = 0; k < layers[l]; k++) {
      const [cx, cy] = pos[l][k];
      const g = svg("g", { class: `node layer${l}`, tabindex: "0" });
      g.dataset.layer = l; g.dataset.k = k;
      g.append(svg("circle", { cx, cy, r: radius }));
      box.append(g);  // in the document first: its labels are measured to fit
      if (!dense) {
        const { name, value, under } = nodeLabels(result, state.view, state.instance, l, k);
        const inside = radius - 2;  // within the circle's stroke
        fitText(g.appendChild(nameText(name, cx, cy - 6)), [null], inCircle(cx, cy, inside));
        const shown = g.appendChild(svg("text", { x: cx, y: cy + 10, class: "value" }));
        shown.dataset.full = fmt(value);  // what the tooltip shows; the circle may round it
        fitText(shown, shorterForms(value), inCircle(cx, cy, inside));
        if (under) {
          const text = g.appendChild(svg("text", { x: cx, y: cy + radius + 14, class: "pre" }));
          fitText(text, shorterForms(under.value).map((v) => `${under.prefix} ${v}`),
            { fits: (b) => b.width <= underWidth, width: () => underWidth });
        }
      }
      const tip = () => nodeTip(result, state.view, state.instance, l, k);
      g.setAttribute("aria-label", tipLabel(tip()));
      hoverable(g, tip, () => select(state, nodeKey(result, state.view, l)));
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          select(state, nodeKey(result, state.view, l));
        }
      });
    }
  }
  applyHighlights(state);
}

// A neuron's name as the entry it is: the symbol, the layer as a subscript, the unit: a₁[2].
function nameText(name, x, y) {
  const t = svg("text", { x, y, class: "name" });
  t.append(name.symbol);
  if (name.layer) {
    const sub = svg("tspan", { class: "sub", dy: 3 });
    sub.textContent = name.layer;
    const after = svg("tspan", { dy: -3 });
    after.textContent = `[${name.index}]`;
    t.append(sub, after);
  } else {
    t.append(`[${name.index}]`);
  }
  t.dataset.text = name.text;
  return t;
}

// Room inside the circle (cx, cy, r): whether a text's box fits, and the width it may take.
function inCircle(cx, cy, r) {
  return {
    fits: (b) => boxInCircle(b, cx, cy, r),
    width: (b) => chordWidth(r, cy, b.y, b.y + b.height) - 1,
  };
}

// The first of `forms` whose box fits the room (null: the text as it is); when none does,
// the last is squeezed to the room's width, so that no label ever spills out.
function fitText(text, forms, room) {
  for (const form of forms) {
    if (form !== null) text.textContent = form;
    if (room.fits(text.getBBox())) return;
  }
  text.setAttribute("textLength", Math.max(1, room.width(text.getBBox())).toFixed(1));
  text.setAttribute("lengthAdjust", "spacingAndGlyphs");
}

// Hover, focus or tap a part for its tooltip; a tap also selects its quantity.
function hoverable(part, tip, onSelect) {
  part.addEventListener("mouseenter", () => showTip(part, tip()));
  part.addEventListener("focus", () => showTip(part, tip()));
  part.addEventListener("click", () => { onSelect(); showTip(part, tip()); });
  part.addEventListener("mouseleave", hideTip);
  part.addEventListener("blur", hideTip);
}

function showTip(target, tip) {
  const box = $("tooltip");
  box.replaceChildren();
  for (const line of tip.lines) {
    const row = el("div", { class: "line", "data-text": line.text });
    for (const tex of line.tex) {
      const piece = el("span", { class: "piece" });
      katexInto(piece, tex);
      row.append(piece, " ");
    }
    box.append(row);
  }
  box.append(el("div", { class: "where" }, tip.where));
  for (const note of tip.notes) box.append(el("div", { class: "where note" }, note));
  box.hidden = false;
  const figure = box.parentElement.getBoundingClientRect();
  const place = tooltipPlace(figure, target.getBoundingClientRect());
  box.style.left = `${place.left}px`;
  box.style.top = `${place.top}px`;
}

function hideTip() { $("tooltip").hidden = true; }

// Mark the selected quantity and the grader's first wrong one, in the drawing and the panel.
export function applyHighlights(state) {
  document.querySelectorAll("#net .highlight, #net .wrong").forEach((n) => {
    n.classList.remove("highlight", "wrong");
  });
  const parts = (key) =>
    partSelectors(state.result, key).flatMap((s) => [...document.querySelectorAll(s)]);
  parts(state.selected).forEach((n) => n.classList.add("highlight"));
  parts(state.wrongKey).forEach((n) => n.classList.add("wrong"));
  document.querySelectorAll(".quantity").forEach((b) => {
    b.classList.toggle("selected", b.dataset.key === state.selected);
    b.classList.toggle("wrong", b.dataset.key === state.wrongKey);
  });
}

export function select(state, key) {
  state.selected = key;
  applyHighlights(state);
  const button = document.querySelector(`.quantity[data-key="${key}"]`);
  if (button && !$("panel-solution").hidden) button.scrollIntoView({ block: "nearest" });
}

// After a step: the edges of each weight matrix that changed pulse once.
export function flashChanges(before, after, layers) {
  for (let l = 1; l < layers.length; l++) {
    if (JSON.stringify(before[`W${l}`]) !== JSON.stringify(after[`W${l}`])) {
      document.querySelectorAll(`#net .edge.layer${l}`).forEach((e) => e.classList.add("changed"));
    }
  }
}
