// The grader's side of the page: the answer template and the request. Pure: no DOM.

export const SECTIONS = ["forward", "backward", "update"];

// Every quantity's name under its section, commented out, with its shape.
export function answerTemplate(quantities) {
  const lines = [];
  for (const section of SECTIONS) {
    lines.push(`[${section}]`);
    for (const q of quantities.filter((q) => q.section === section)) {
      lines.push(`# ${q.key} = ...   (shape ${q.shape.length ? q.shape.join("×") : "a number"})`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

// The /api/grade request. `by` says which of the two applies: "rtol" (the relative tolerance,
// with the rounding each value shows allowed for, as `handgrad grade` by default) or
// "decimals" (every value taken as rounded to K decimals; the relative tolerance is dropped).
export function gradeRequest(problem, answerText, rtolText, decimalsText, by = "rtol") {
  const body = { problem, answer_text: answerText, rtol: Number(rtolText) || 0.001 };
  if (by === "decimals" && String(decimalsText).trim() !== "") {
    body.decimals = Number(String(decimalsText).trim());
  }
  return body;
}

// The sentence under the choice: what the grader will do with it.
export function toleranceHelp(by, rtolText, decimalsText) {
  if (by === "decimals") {
    const k = String(decimalsText).trim() || "K";
    const place = { 0: "units place", 1: "first decimal", 2: "second decimal",
      3: "third decimal" }[k] || `${k}th decimal`;
    return `Every value is taken as rounded to ${k} decimal${k === "1" ? "" : "s"}: it may `
      + `differ by ½ in the ${place}, carried through the formulas. `
      + "The relative tolerance does not apply.";
  }
  const rtol = Number(rtolText) || 0.001;
  return `Each value may differ by ${rtol} of its size, plus ½ in the last decimal it shows `
    + "(carried through the formulas), as handgrad grade does by default. "
    + "The decimals box does not apply.";
}

// Problem 2's items (the numbers): a report also holds Problem 1's formulas, section
// "derivation", when the answer gave any (see formulas.mjs).
export function numberItems(report) {
  return report.items.filter((i) => i.section !== "derivation");
}

export function countStatuses(items) {
  const counts = { correct: 0, carried_forward: 0, wrong: 0, missing: 0 };
  for (const item of items) counts[item.status] += 1;
  return counts;
}

// The numbers' verdicts in a line (the report's summary counts the formulas too).
export function summaryLine(report) {
  const s = report.derivation ? countStatuses(numberItems(report)) : report.summary;
  return `${s.correct} correct, ${s.carried_forward} carried forward, ${s.wrong} wrong, `
    + `${s.missing} missing (${report.tolerance}).`;
}

// The first wrong number: the step marked on the network (a formula has no neuron).
export function firstWrong(report) {
  return numberItems(report).find((i) => i.status === "wrong") || null;
}

// Whether the answer gave any number (formulas may come alone).
export function givesNumbers(report) {
  return numberItems(report).some((i) => i.status !== "missing");
}
