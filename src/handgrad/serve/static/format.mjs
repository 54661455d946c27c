// Numbers for the eye and for KaTeX. Pure: no DOM, so `node --test` imports it as it is.

// The page's one digits setting: significant digits, as `handgrad solve` shows them by default
// (its --digits, 6). Every number on the page is written with it; a neuron's circle may show
// fewer where the full number does not fit, and its tooltip then shows all of them.
export const DIGITS = 6;

// |v| rounded to `digits` significant digits, exactly as Python's format(v, ".Ng") rounds
// (half to even on an exact tie; JavaScript's toExponential rounds a tie up): the digits and
// the decimal exponent.
function rounded(v, digits) {
  const a = Math.abs(v);
  const full = a.toExponential(100);  // exact for a double, far enough to see a tie
  const [mantissa, exponent] = full.split("e");
  const all = mantissa.replace(".", "");
  const tie = all[digits] === "5" && /^0*$/.test(all.slice(digits + 1));
  if (tie && Number(all[digits - 1]) % 2 === 0) {
    return { digits: all.slice(0, digits), exponent: Number(exponent) };
  }
  const [m, e] = a.toExponential(digits - 1).split("e");
  return { digits: m.replace(".", ""), exponent: Number(e) };
}

// A number as Python's format(v, ".{digits}g") writes it, the exponent as ×10^e:
// 0.265388, 1.21695, -13, 0.000245, 1.23457×10^6, 1.234×10^-5.
export function fmt(v, digits = DIGITS) {
  if (typeof v !== "number" || !isFinite(v)) return String(v);
  if (v === 0) return "0";
  const sign = v < 0 ? "-" : "";
  const { digits: d, exponent: x } = rounded(v, digits);
  if (x < -4 || x >= digits) {
    const tail = d.slice(1).replace(/0+$/, "");
    return `${sign}${d[0]}${tail ? "." + tail : ""}×10^${x}`;
  }
  const whole = x >= 0 ? d.slice(0, x + 1) : "0";
  const fraction = (x >= 0 ? d.slice(x + 1) : "0".repeat(-x - 1) + d).replace(/0+$/, "");
  return `${sign}${whole}${fraction ? "." + fraction : ""}`;
}

// The ways to write `v` in a small space, longest first: DIGITS significant digits down to
// one, an exponent written e-5 rather than ×10^-5. The drawing takes the first that fits.
export function shorterForms(v) {
  const forms = [];
  for (let d = DIGITS; d >= 1; d--) {
    const text = fmt(v, d).replace("×10^", "e");
    if (!forms.includes(text)) forms.push(text);
  }
  return forms;
}

export function texNumber(v, digits = DIGITS) {
  const s = fmt(v, digits);
  return s.replace(/×10\^([-+]?\d+)/, (_, e) => `\\times 10^{${Number(e)}}`);
}

// A number, vector or matrix as LaTeX; a big one shows its corners and elides the middle.
export function texValue(value, digits = DIGITS) {
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

// One entry of a quantity, 1-based as on paper and as the command line names it: a_{1}[2] in
// LaTeX (a fraction in parentheses: (∂L/∂W_1)[3,3]), a1[2] in text. The neurons' circles
// name their unit the same way.
export function entryTex(q, index) {
  const symbol = /\\frac|\s/.test(q.symbol_latex) ? `\\left(${q.symbol_latex}\\right)`
    : q.symbol_latex;
  return `${symbol}[${index.join(",")}]`;
}

export function entryText(q, index) {
  return `${q.symbol}[${index.join(",")}]`;
}
