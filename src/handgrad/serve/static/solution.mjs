// The solution panel: every quantity as the server wrote it, the loss, the gradient checks.
import { $, el, katexInto } from "./dom.mjs";
import { DIGITS, fmt, formulaTex, formulaText, texValue } from "./format.mjs";
import { SECTIONS } from "./answers.mjs";
import { select } from "./network.mjs";

export function drawSolution(state) {
  const panel = $("panel-solution");
  panel.replaceChildren();
  const result = state.result;
  const sol = result.solution;
  const titles = {
    forward: "Forward pass",
    backward: "Backward pass",
    update: `Update: θ ← θ − η ∂L/∂θ, η = ${result.problem.optimizer.learning_rate}`,
  };
  panel.append(el("p", { class: "muted digits-note", id: "digits-note" },
    `Numbers to ${DIGITS} significant digits, as handgrad solve shows them; the JSON download`
    + " has them in full."));
  for (const section of SECTIONS) {
    panel.append(el("h2", {}, titles[section]));
    for (const q of result.quantities.filter((q) => q.section === section)) {
      const button = el("button", { class: "quantity", type: "button", "data-key": q.key,
        "data-section": section, "data-value": JSON.stringify(q.value),
        "aria-label": formulaText(q) });
      const math = el("span", { class: "formula" });
      katexInto(math, `${formulaTex(q)} = ${texValue(q.value)}`);
      button.append(math);
      if (q.note) button.append(el("span", { class: "note" }, q.note));
      button.addEventListener("click", () => select(state, q.key));
      panel.append(button);
    }
  }
  panel.append(el("h2", {}, "Loss"));
  const h = sol.history;
  panel.append(el("p", {},
    `Before the step L = ${fmt(h[0])}; after it L = ${fmt(h[h.length - 1])}.`));
  panel.append(el("h2", {}, "Gradient check"));
  const table = el("table", {}, el("tr", {},
    el("th", {}, "gradient"), el("th", {}, "method"), el("th", {}, "relative error")));
  for (const [method, errors] of Object.entries(sol.checks)) {
    for (const [name, value] of Object.entries(errors)) {
      const err = typeof value === "object" && value !== null
        ? value.error ?? value.relative_error ?? JSON.stringify(value) : value;
      table.append(el("tr", {}, el("td", {}, name), el("td", {}, method.replace("_", " ")),
        el("td", { class: "num" }, typeof err === "number" ? err.toExponential(1) : String(err))));
    }
  }
  panel.append(table);
}
