// Numbers for the eye and for KaTeX. Pure: no DOM, so `node --test` imports it as it is.

// A number rounded for reading: `digits` significant digits, ×10^ for the very large or small.
export function fmt(v, digits = 4) {
  if (typeof v !== "number" || !isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(digits - 1).replace("e", "×10^");
  return String(Number(v.toPrecision(digits)));
}

export function texNumber(v, digits = 5) {
  const s = fmt(v, digits);
  return s.replace(/×10\^([-+]?\d+)/, (_, e) => `\\times 10^{${Number(e)}}`);
}

// A number, vector or matrix as LaTeX; a big one shows its corners and elides the middle.
export function texValue(value, digits = 5) {
  if (typeof value === "number") return texNumber(value, digits);
  const rows = Array.isArray(value[0]) ? value : value.map((v) => [v]);
  const shown = rows.length > 12 ? [...rows.slice(0, 5), null, ...rows.slice(-5)] : rows;
  const body = shown.map((row) => row === null ? "\\vdots" : (row.length > 10
    ? [...row.slice(0, 4), "\\cdots", ...row.slice(-4)] : row)
    .map((v) => typeof v === "string" ? v : texNumber(v, digits)).join(" & ")).join(" \\\\ ");
  return `\\begin{bmatrix} ${body} \\end{bmatrix}`;
}

// The server writes a quantity's relation as "=" or "←" (an update); KaTeX needs a command.
export function relationTex(relation) {
  return relation === "←" ? "\\leftarrow" : "=";
}

// `symbol relation formula`: a quantity of the server's solution as it writes it.
export function formulaTex(q) {
  return `${q.symbol_latex} ${relationTex(q.relation)} ${q.formula_latex}`;
}

export function formulaText(q) {
  return `${q.symbol} ${q.relation} ${q.formula}`;
}

// One entry of a quantity: (W_{1})_{3,1} in LaTeX, W1[3,1] in text (1-based, as on paper).
export function entryTex(q, index) {
  return `\\left(${q.symbol_latex}\\right)_{${index.join(",")}}`;
}

export function entryText(q, index) {
  return `${q.symbol}[${index.join(",")}]`;
}
