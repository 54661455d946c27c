// The Derivation tab: every gradient derived symbolically and verified by the server (sympy).
import { api } from "./api.mjs";
import { $, el, katexInto } from "./dom.mjs";

export async function drawDerivation(state) {
  const panel = $("panel-derivation");
  panel.replaceChildren(el("p", { class: "muted" }, "Deriving and verifying with sympy…"));
  try {
    const d = await api("/api/derive", { problem: state.problem });
    panel.replaceChildren(el("p", {},
      d.verified ? "Every step verified with sympy." : "Some steps could not be verified."));
    for (const step of d.steps) {
      const box = el("div", { class: "derivation-step" });
      const head = el("div", {}, el("strong", {}, step.quantity),
        step.verified ? el("span", { class: "badge ok" }, "✓ verified") : null,
        step.shape ? el("span", { class: "badge" }, step.shape) : null);
      const math = el("div", { class: "formula" }); katexInto(math, step.latex, true);
      box.append(head, math);
      if (step.note) box.append(el("p", { class: "muted" }, step.note));
      panel.append(box);
    }
    panel.dataset.for = JSON.stringify(state.problem.network)
      + JSON.stringify(state.problem.loss || {});
  } catch (e) { panel.replaceChildren(el("p", { class: "error" }, e.message)); }
}
