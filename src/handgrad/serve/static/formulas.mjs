// Problem 1 in "Check my answer": the formulas the student types (∂L/∂W, ∂L/∂b of every
// layer, and optionally their steps), the request, and each verdict as the page shows it.
// Pure: no DOM. The server reads and grades every formula (src/handgrad/grade/derivation.py);
// this module only arranges what it answers.

export const SYNTAXES = [
  { value: "auto", label: "either (detected per formula)" },
  { value: "numpy", label: "NumPy-like" },
  { value: "latex", label: "LaTeX" },
];

export const STATUS_WORDS = {
  correct: "✓ correct", carried_forward: "↪ carried forward", wrong: "✗ wrong",
  missing: "· missing",
};

// The fields from /api/solve's `formulas` (backward order): the asked gradients first, the
// steps (∂L/∂ŷ, ∂L/∂z, ∂L/∂a, ∂L/∂h), which the student may show, apart.
export function formulaFields(formulas) {
  const field = (f) => ({ name: f.name, symbol: f.symbol, tex: f.symbol_latex, asked: f.asked });
  return {
    asked: (formulas || []).filter((f) => f.asked).map(field),
    steps: (formulas || []).filter((f) => !f.asked).map(field),
  };
}

// The fields' signature: typed formulas are kept while the problem keeps its depth.
export function fieldsSignature(formulas) {
  return (formulas || []).map((f) => f.name).join(",");
}

// What /api/grade takes beside the numbers: {derivation, syntax}, or {} when no formula
// is typed (a blank one is not given, as in an answer file).
export function formulaRequest(values, syntax = "auto") {
  const given = Object.fromEntries(Object.entries(values || {})
    .filter(([, text]) => typeof text === "string" && text.trim() !== ""));
  if (Object.keys(given).length === 0) return {};
  const body = { derivation: given };
  if (syntax === "numpy" || syntax === "latex") body.syntax = syntax;
  return body;
}

// The typed formulas as the answer file's [derivation] section ("" when none is typed), in
// the fields' order: TOML basic strings, which JSON's escapes are.
export function derivationToml(values, order = Object.keys(values || {})) {
  const lines = order
    .filter((name) => typeof (values || {})[name] === "string" && values[name].trim() !== "")
    .map((name) => `${name} = ${JSON.stringify(values[name])}`);
  return lines.length ? `[derivation]\n${lines.join("\n")}\n` : "";
}

// Problem 1's items of a report, in the grader's (backward) order.
export function formulaItems(report) {
  return (report.items || []).filter((i) => i.section === "derivation");
}

// The formulas' verdicts in a line, as `handgrad grade` writes it.
export function formulaSummary(report) {
  const items = formulaItems(report);
  const s = { correct: 0, carried_forward: 0, wrong: 0, missing: 0 };
  for (const item of items) s[item.status] += 1;
  const given = items.length - s.missing;
  return `${s.correct} correct, ${s.carried_forward} carried forward, ${s.wrong} wrong, `
    + `${s.missing} missing (${given} formula${given === 1 ? "" : "s"} graded for every size:`
    + " vectors are columns, a batch one column per instance).";
}

// Where the reading of a formula stopped, as two lines to set in monospace: the formula and
// a caret under the character (position counts from 0; at the end, past the last one).
// Long formulas are cut to a window around the position, so the caret stays in view.
export function caretLines(formula, position, width = 60) {
  if (position === null || position === undefined || position < 0) return null;
  const at = Math.min(position, formula.length);
  let start = 0;
  if (formula.length > width && at > width - 10) start = Math.min(at - (width - 10), formula.length - width + 1);
  start = Math.max(0, start);
  const shown = formula.slice(start, start + width);
  const prefix = start > 0 ? "…" : "";
  const suffix = start + width < formula.length ? "…" : "";
  return { text: prefix + shown + suffix, caret: " ".repeat(prefix.length + at - start) + "^" };
}

// What the page shows for one formula: its verdict, how it was read (LaTeX to typeset), the
// cause in words, a right one when it is wrong, and where its reading (or its sizes) stopped.
export function formulaVerdict(item) {
  const wrong = item.status === "wrong";
  let words = "";
  if (item.status === "carried_forward") words = "right in terms of your own earlier steps";
  else if (wrong) words = item.explanation || "matches none of the known mistakes";
  else if (item.status === "correct" && item.cause) words = item.explanation;
  else if (item.status === "missing") words = "not given";
  return {
    name: item.name,
    status: item.status,
    statusText: STATUS_WORDS[item.status] || item.status,
    cause: item.cause || "",
    words,
    given: item.given ?? "",
    readTex: item.read_latex || "",
    expectedTex: wrong || item.status === "missing" ? item.expected_latex || "" : "",
    // where the reading stopped, or where the sizes stopped fitting
    caret: typeof item.given === "string" ? caretLines(item.given, item.position) : null,
  };
}
