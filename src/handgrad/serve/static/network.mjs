// The network drawing: neurons and weighted edges, their tooltips, and the highlights that
// tie them to the solution panel and the grader. Reads the state; computes nothing.
import { $, el, katexInto, svg } from "./dom.mjs";
import { edgeStyle, networkLayout, tooltipPlace } from "./geometry.mjs";
import { depth, nodeKey, partSelectors, weight } from "./quantities.mjs";
import { edgeLabel, edgeTip, nodeLabels, nodeTip, tipLabel } from "./tooltips.mjs";

export function drawNetwork(state) {
  const box = $("net");
  box.replaceChildren();
  const result = state.result;
  const net = result.problem.network;
  const layers = net.layers;
  const L = depth(result);
  const { width, height, xs, pos, dense, radius } = networkLayout(layers, box.clientWidth);
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
      if (!dense) {
        const [top, bottom, under] = nodeLabels(result, state.view, state.instance, l, k);
        const placed = [[top, -3, "name"], [bottom, 11, "value"], [under, radius + 13, "pre"]];
        for (const [text, dy, cls] of placed) {
          if (!text) continue;
          const t = svg("text", { x: cx, y: cy + dy, class: cls });
          t.textContent = text;
          g.append(t);
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
      box.append(g);
    }
  }
  applyHighlights(state);
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
