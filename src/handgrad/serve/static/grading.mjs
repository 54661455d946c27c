// The "Check my answer" panel: the grader's verdict on each quantity, the first wrong step.
import { api } from "./api.mjs";
import { firstWrong, gradeRequest, summaryLine } from "./answers.mjs";
import { $, el, katexInto } from "./dom.mjs";
import { texValue } from "./format.mjs";
import { applyHighlights } from "./network.mjs";

export async function gradeAnswer(state) {
  const out = $("grade-result");
  out.replaceChildren();
  const body = gradeRequest(state.problem, $("answer").value, $("rtol").value, $("decimals").value);
  try {
    const report = await api("/api/grade", body);
    out.append(el("p", { id: "grade-summary" }, summaryLine(report)));
    const table = el("table", {}, el("tr", {},
      el("th", {}, "quantity"), el("th", {}, "verdict"), el("th", {}, "likely cause")));
    for (const item of report.items) {
      table.append(el("tr", { "data-key": item.name },
        el("td", {}, `${item.section}.${item.name}`),
        el("td", { class: `status-${item.status}` }, item.status.replace("_", " ")),
        el("td", {}, item.cause || "")));
    }
    out.append(table);
    const first = firstWrong(report);
    state.wrongKey = first ? first.name : null;
    if (first) {
      const box = el("div", { class: "first-wrong", id: "first-wrong" },
        el("strong", {}, `First wrong step: ${first.section}.${first.name}`));
      const math = el("div");
      katexInto(math, `\\text{expected } ${texValue(first.expected)} \\quad `
        + `\\text{given } ${texValue(first.given)}`, true);
      const cause = first.cause
        ? `Likely cause (${first.cause}): ${first.explanation}.` : first.explanation;
      box.append(math, el("p", {}, cause));
      out.append(box);
    } else {
      out.append(el("p", { class: "status-correct" }, "No wrong step."));
    }
    applyHighlights(state);
  } catch (e) {
    out.append(el("p", { class: "error", role: "alert" }, e.message));
  }
}
