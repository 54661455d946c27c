// The "Check my answer" panel: the grader's verdict on each quantity, the first wrong step.
import { api } from "./api.mjs";
import {
  answerGrids, answerSource, answerToml, cellName, cellOrder, emptyCells, filledCells,
  gridsSignature, holdsTypedAnswer, isMultiPaste, parsePaste, pasteInto,
} from "./answerform.mjs";
import {
  answerTemplate, firstWrong, givesNumbers, gradeRequest, numberItems, summaryLine,
  toleranceHelp,
} from "./answers.mjs";
import { $, el, katexInto } from "./dom.mjs";
import {
  SYNTAXES, derivationToml, fieldsSignature, formulaFields, formulaItems, formulaRequest, formulaSummary,
  formulaVerdict,
} from "./formulas.mjs";
import { texValue } from "./format.mjs";
import { applyHighlights } from "./network.mjs";

export async function gradeAnswer(state) {
  const out = $("grade-result");
  out.replaceChildren();
  const form = state.answerForm;
  let text = $("answer").value;
  if (form && answerSource(form.grids, form.cells) === "form") {
    const made = answerToml(form.grids, form.cells);  // the very file "Download answer" gives
    if (!made.text) { formMessage(made.problems); return; }
    text = made.text;
  }
  formMessage([]);
  const formulas = formulaRequest(state.formulaForm ? state.formulaForm.values : {},
    $("formula-syntax").value);
  const body = { ...gradeRequest(state.problem, text, $("rtol").value, $("decimals").value,
    comparedBy()), ...formulas };
  try {
    const report = await api("/api/grade", body);
    if (formulaItems(report).length) {
      drawFormulaVerdicts(out, report, state.formulaForm ? state.formulaForm.symbols : {});
    }
    const first = firstWrong(report);
    state.wrongKey = first ? first.name : null;
    if (formulaItems(report).length && !givesNumbers(report)) {
      out.append(el("h3", { class: "part-title" }, "Problem 2: the numbers"),
        el("p", { id: "grade-summary", class: "muted" }, "No numbers given."));
      applyHighlights(state);
      return;
    }
    if (formulaItems(report).length) {
      out.append(el("h3", { class: "part-title" }, "Problem 2: the numbers"));
    }
    out.append(el("p", { id: "grade-summary" }, summaryLine(report)));
    const table = el("table", {}, el("tr", {},
      el("th", {}, "quantity"), el("th", {}, "verdict"), el("th", {}, "likely cause")));
    for (const item of numberItems(report)) {
      table.append(el("tr", { "data-key": item.name },
        el("td", {}, `${item.section}.${item.name}`),
        el("td", { class: `status-${item.status}` }, item.status.replace("_", " ")),
        el("td", {}, item.cause || "")));
    }
    out.append(table);
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

// --- Problem 1: a field per formula, each verdict with how it was read ---------------------

function drawFormulaVerdicts(out, report, symbols) {
  const part = el("div", { id: "formula-result", class: "formula-result" },
    el("h3", { class: "part-title" }, "Problem 1: the formulas"),
    el("p", { id: "formula-summary" }, formulaSummary(report)));
  for (const item of formulaItems(report)) {
    const v = formulaVerdict(item);
    const symbol = el("span", { class: "symbol" });
    katexInto(symbol, symbols[v.name] || v.name);
    const box = el("div", { class: `formula-verdict status-${v.status}`, "data-name": v.name },
      el("div", { class: "head" }, symbol, el("span", { class: "verdict" }, v.statusText),
        v.cause ? el("code", { class: "cause" }, v.cause) : null));
    if (v.readTex) {
      const read = el("span", { class: "read" }, el("span", { class: "tag" }, "read as"));
      const math = el("span", { class: "math" });
      katexInto(math, v.readTex);
      read.append(math);
      box.append(read);
    }
    if (v.caret) {
      box.append(el("pre", { class: "caret", "aria-label": "where the reading stopped" },
        `${v.caret.text}\n${v.caret.caret}`));
    }
    if (v.words) box.append(el("p", { class: "words" }, v.words));
    if (v.expectedTex) {
      const expected = el("span", { class: "expected" },
        el("span", { class: "tag" }, "a right one"));
      const math = el("span", { class: "math" });
      katexInto(math, v.expectedTex);
      expected.append(math);
      box.append(expected);
    }
    part.append(box);
  }
  out.append(part);
}


function formulaInput(form, f) {
  const input = el("input", {
    type: "text", id: `formula-${f.name}`, "data-formula": f.name, autocomplete: "off",
    spellcheck: "false", autocapitalize: "off", placeholder: f.asked ? "formula" : "optional",
    "aria-label": `${f.symbol}, a formula`,
  });
  input.value = form.values[f.name] || "";
  const label = el("label", { for: `formula-${f.name}` });
  katexInto(label, `${f.tex} =`);
  return [label, input];
}

// (Re)draw the formula fields for this problem's depth; typed formulas stay while it keeps it.
export function drawFormulaForm(state) {
  const formulas = state.result.formulas || [];
  const signature = fieldsSignature(formulas);
  const old = state.formulaForm;
  if (old && old.signature === signature) return;
  // typed formulas stay (a name the new depth lacks is never sent: it has no field)
  const names = new Set(formulas.map((f) => f.name));
  const kept = Object.entries(old ? old.values : {}).filter(([name]) => names.has(name));
  const form = { signature, values: Object.fromEntries(kept),
    symbols: Object.fromEntries(formulas.map((f) => [f.name, f.symbol_latex])) };
  state.formulaForm = form;
  const { asked, steps } = formulaFields(formulas);
  $("formula-fields").replaceChildren(...asked.flatMap((f) => formulaInput(form, f)));
  $("formula-step-fields").replaceChildren(...steps.flatMap((f) => formulaInput(form, f)));
}

function setupFormulaEvents(state) {
  const select = $("formula-syntax");
  select.replaceChildren(...SYNTAXES.map((s) => el("option", { value: s.value }, s.label)));
  $("formula-part").addEventListener("input", (e) => {
    const name = e.target.dataset && e.target.dataset.formula;
    if (name && state.formulaForm) state.formulaForm.values[name] = e.target.value;
  });
}

// --- the answer form: one grid per asked quantity -----------------------------------------

function formMessage(problems) {
  const box = $("form-message");
  box.replaceChildren(...problems.map((p) => el("span", { class: "block" }, p)));
  box.hidden = problems.length === 0;
}

function showSource(form) {
  const filled = filledCells(form.grids, form.cells);
  $("answer-source").textContent = filled > 0
    ? `Grade and Download use the form (${filled} cell${filled === 1 ? "" : "s"} filled); `
      + "clear it to grade the text box instead."
    : "The form is empty: Grade uses the text box below.";
}

function cellInput(form, g, r, c) {
  return form.root.querySelector(`input[data-grid="${g.id}"][data-r="${r}"][data-c="${c}"]`);
}

// (Re)draw the form for this solution; cells typed for a problem of the same shape stay.
export function drawAnswerForm(state) {
  drawFormulaForm(state);
  const grids = answerGrids(state.result.quantities);
  const signature = gridsSignature(grids);
  const old = state.answerForm;
  if (old && old.signature === signature) return;
  const form = { grids, signature, cells: emptyCells(grids), root: $("answer-form") };
  state.answerForm = form;
  const blocks = grids.map((g) => {
    const symbol = el("span", { class: "answer-symbol" });
    katexInto(symbol, g.symbol);
    const shape = g.kind === "scalar" ? "a number" : g.shape.join("×");
    const grid = el("div", { class: "grid-input", role: "group",
      "aria-label": `${g.id}, ${shape}` });
    grid.style.gridTemplateColumns = `repeat(${g.cols}, auto)`;
    for (let r = 0; r < g.rows; r += 1) {
      for (let c = 0; c < g.cols; c += 1) {
        grid.append(el("input", {
          type: "text", inputmode: "decimal", autocomplete: "off", spellcheck: "false",
          "data-grid": g.id, "data-r": r, "data-c": c,
          "aria-label": `${g.id}${cellName(g, r, c)}`,
        }));
      }
    }
    return el("div", { class: "answer-quantity", "data-key": g.id },
      el("div", { class: "answer-label" }, symbol,
        el("code", {}, g.id), el("span", { class: "muted" }, `(${shape})`)),
      grid);
  });
  const sections = [...new Set(grids.map((g) => g.section))].map((section) =>
    el("fieldset", { class: "answer-section" }, el("legend", {}, `[${section}]`),
      ...blocks.filter((b, i) => grids[i].section === section)));
  form.root.replaceChildren(...sections);
  formMessage([]);
  showSource(form);
}

function setupFormEvents(state) {
  const root = $("answer-form");
  const formOf = () => state.answerForm;
  root.addEventListener("input", (e) => {
    const input = e.target; const form = formOf();
    if (!form || !input.dataset.grid) return;
    form.cells[input.dataset.grid][Number(input.dataset.r)][Number(input.dataset.c)] = input.value;
    input.classList.remove("invalid");
    showSource(form);
  });
  root.addEventListener("paste", (e) => {
    const input = e.target; const form = formOf();
    if (!form || !input.dataset.grid) return;
    const rows = parsePaste(e.clipboardData.getData("text/plain"));
    if (!isMultiPaste(rows)) return;  // one number: the browser pastes it
    e.preventDefault();
    const g = form.grids.find((x) => x.id === input.dataset.grid);
    const { cells, dropped } = pasteInto(g, form.cells[g.id],
      Number(input.dataset.r), Number(input.dataset.c), rows);
    form.cells[g.id] = cells;
    cells.forEach((row, r) => row.forEach((text, c) => { cellInput(form, g, r, c).value = text; }));
    formMessage(dropped ? [`${g.id}: ${dropped} pasted value${dropped === 1 ? "" : "s"} `
      + "did not fit its cells and were left out"] : []);
    showSource(form);
  });
}

function downloadAnswer(state) {
  const form = state.answerForm;
  if (!form) return;
  const formulas = derivationToml(state.formulaForm ? state.formulaForm.values : {},
    (state.result.formulas || []).map((f) => f.name));
  if (filledCells(form.grids, form.cells) === 0 && !formulas) {
    formMessage(["The form is empty: fill in the values you computed, then download."]);
    return;
  }
  const made = filledCells(form.grids, form.cells) === 0 ? { text: "", problems: [] }
    : answerToml(form.grids, form.cells);
  if (made.text === null) { formMessage(made.problems); return; }
  formMessage([]);
  const text = [made.text, formulas].filter((part) => part).join("\n");
  const blob = new Blob([text], { type: "application/toml" });
  const link = el("a", { href: URL.createObjectURL(blob), download: "answer.toml" });
  document.body.append(link); link.click(); link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function clearForm(state) {
  const form = state.answerForm;
  if (!form) return;
  form.cells = emptyCells(form.grids);
  form.root.querySelectorAll("input").forEach((i) => { i.value = ""; });
  formMessage([]);
  showSource(form);
}

// Template: fills the text box, asking inline first when it holds a typed answer.
function fillTemplate(state) {
  const template = answerTemplate(state.result.quantities);
  const ask = $("replace-confirm");
  if (holdsTypedAnswer($("answer").value)) {
    ask.hidden = false;
    $("replace-yes").focus();
    return;
  }
  $("answer").value = template;
}

// Which tolerance applies: the chosen one's box is enabled, the other's disabled, and a
// sentence under them says what the grader will do.
function comparedBy() {
  return document.querySelector("input[name=compare]:checked").value;
}

function showTolerance() {
  const by = comparedBy();
  $("rtol").disabled = by !== "rtol";
  $("decimals").disabled = by !== "decimals";
  $("tolerance-help").textContent = toleranceHelp(by, $("rtol").value, $("decimals").value);
}

export function setupGrading(state) {
  setupFormEvents(state);
  setupFormulaEvents(state);
  document.querySelectorAll("input[name=compare]").forEach((r) => {
    r.addEventListener("change", showTolerance);
  });
  $("rtol").addEventListener("input", showTolerance);
  $("decimals").addEventListener("input", showTolerance);
  showTolerance();
  $("grade").addEventListener("click", () => gradeAnswer(state));
  $("download-answer").addEventListener("click", () => downloadAnswer(state));
  $("clear-form").addEventListener("click", () => clearForm(state));
  $("fill-answer").addEventListener("click", () => fillTemplate(state));
  $("replace-yes").addEventListener("click", () => {
    $("answer").value = answerTemplate(state.result.quantities);
    $("replace-confirm").hidden = true;
    $("answer").focus();
  });
  $("replace-no").addEventListener("click", () => {
    $("replace-confirm").hidden = true;
    $("fill-answer").focus();
  });
}
