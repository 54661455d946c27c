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

// The /api/grade request: an empty decimals box means "by relative tolerance".
export function gradeRequest(problem, answerText, rtolText, decimalsText) {
  const body = { problem, answer_text: answerText, rtol: Number(rtolText) || 0.001 };
  if (decimalsText.trim() !== "") body.decimals = Number(decimalsText.trim());
  return body;
}

export function summaryLine(report) {
  const s = report.summary;
  return `${s.correct} correct, ${s.carried_forward} carried forward, ${s.wrong} wrong, `
    + `${s.missing} missing (${report.tolerance}).`;
}

export function firstWrong(report) {
  return report.items.find((i) => i.status === "wrong") || null;
}
