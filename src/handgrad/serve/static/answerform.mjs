// The answer form's logic: one grid of cells per quantity the homework asks, pasted rows,
// and the TOML answer file that `handgrad grade PROBLEM answer.toml` reads. Pure: no DOM.
import { SECTIONS } from "./answers.mjs";

// What a homework does not ask (src/handgrad/grade/keys.py NOT_ASKED): left off the form.
export const NOT_ASKED = new Set(["forward.ys", "forward.losses", "update.loss"]);

// One grid per asked quantity, in the solution's order: a matrix is rows × cols, a vector
// one row of cells, a number a single cell.
export function answerGrids(quantities) {
  return quantities
    .filter((q) => !NOT_ASKED.has(`${q.section}.${q.key}`))
    .map((q) => {
      const kind = q.shape.length === 0 ? "scalar" : q.shape.length === 1 ? "vector" : "matrix";
      const rows = kind === "matrix" ? q.shape[0] : 1;
      const cols = kind === "scalar" ? 1 : kind === "vector" ? q.shape[0]
        : q.shape.slice(1).reduce((a, b) => a * b, 1);
      return { section: q.section, key: q.key, symbol: q.symbol_latex, shape: q.shape,
        kind, rows, cols, id: `${q.section}.${q.key}` };
    });
}

// The grids' shape, to tell whether a new solution can keep the cells already typed.
export function gridsSignature(grids) {
  return grids.map((g) => `${g.id}:${g.rows}x${g.cols}`).join(";");
}

// Empty cells for every grid: {id: [[text, ...], ...]}.
export function emptyCells(grids) {
  return Object.fromEntries(grids.map((g) =>
    [g.id, Array.from({ length: g.rows }, () => Array(g.cols).fill(""))]));
}

// Every cell as [gridId, row, col], in reading order: row by row, grid by grid (Tab's order).
export function cellOrder(grids) {
  const order = [];
  for (const g of grids) {
    for (let r = 0; r < g.rows; r += 1) {
      for (let c = 0; c < g.cols; c += 1) order.push([g.id, r, c]);
    }
  }
  return order;
}

// Pasted text as rows of entries: lines are rows; entries are separated by tabs (a
// spreadsheet's row, empty entries kept) or else by spaces and commas; brackets are dropped.
export function parsePaste(text) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  return lines.map((line) => {
    const clean = line.replace(/[[\]]/g, " ");
    if (clean.includes("\t")) return clean.split("\t").map((t) => t.trim().replace(/,$/, "").trim());
    return clean.split(/[\s,;]+/).filter((t) => t !== "");
  });
}

// Whether a paste is more than one entry (one entry is left to the browser's own paste).
export function isMultiPaste(rows) {
  return rows.length > 1 || (rows.length === 1 && rows[0].length > 1);
}

// `cells` of `grid` with `rows` pasted at (row, col): each pasted line fills one row from
// col on (a vector takes every entry in turn); entries past the grid's edge are dropped and
// counted. Returns {cells, dropped}; `cells` is a new array.
export function pasteInto(grid, cells, row, col, rows) {
  const out = cells.map((r) => r.slice());
  let dropped = 0;
  const lines = grid.rows === 1 ? [rows.flat()] : rows;
  lines.forEach((entries, i) => {
    entries.forEach((entry, j) => {
      const r = row + i; const c = col + j;
      if (r < grid.rows && c < grid.cols) out[r][c] = entry;
      else dropped += 1;
    });
  });
  return { cells: out, dropped };
}

const TOML_NUMBER = /^[+-]?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const FRACTION = /^[+-]?\d+\s*\/\s*[+-]?\d+$/;

// A cell's text as TOML: a number as written (so its decimals count as written), a
// fraction or a number TOML cannot write bare (".5", "007") as a string the grader reads;
// null when it is not a number.
export function tomlEntry(text) {
  const t = text.trim().replace(/\u2212/g, "-");
  if (TOML_NUMBER.test(t)) return t;
  if (DECIMAL.test(t)) return JSON.stringify(t);
  if (FRACTION.test(t) && !/^0+$/.test(t.split("/")[1].trim().replace(/^[+-]/, ""))) {
    return JSON.stringify(t.replace(/\s+/g, ""));
  }
  return null;
}

const filledCount = (rows) => rows.flat().filter((t) => t.trim() !== "").length;

// How many cells of the whole form hold something.
export function filledCells(grids, cells) {
  return grids.reduce((n, g) => n + filledCount(cells[g.id]), 0);
}

// A cell as on paper, 1-based: [2,3] of a matrix, [2] of a vector, nothing for a number.
export function cellName(grid, r, c) {
  if (grid.kind === "matrix") return `[${r + 1},${c + 1}]`;
  return grid.kind === "vector" ? `[${c + 1}]` : "";
}

const bareKey = (k) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));

// The form as the TOML answer file: sections [forward], [backward], [update] with the
// quantities that have a filled cell, numbers as written. Returns {text, problems}: a
// quantity filled in part, or a cell that is not a number, is a problem naming it, and
// then `text` is null.
export function answerToml(grids, cells) {
  const problems = [];
  const bySection = Object.fromEntries(SECTIONS.map((s) => [s, []]));
  for (const g of grids) {
    const rows = cells[g.id];
    const filled = filledCount(rows);
    if (filled === 0) continue;
    if (filled < g.rows * g.cols) {
      problems.push(`${g.id}: ${g.rows * g.cols - filled} of its ${g.rows * g.cols} cells are `
        + "blank; fill them all in, or clear them all if you did not compute it");
      continue;
    }
    const bad = [];
    const entries = rows.map((row, r) => row.map((text, c) => {
      const entry = tomlEntry(text);
      if (entry === null) bad.push(`${g.id}${cellName(g, r, c)}: "${text.trim()}" is not a number`);
      return entry;
    }));
    if (bad.length) { problems.push(...bad); continue; }
    let value;
    if (g.kind === "scalar") value = entries[0][0];
    else if (g.kind === "vector") value = `[${entries[0].join(", ")}]`;
    else value = `[\n${entries.map((row) => `  [${row.join(", ")}],\n`).join("")}]`;
    bySection[g.section].push(`${bareKey(g.key)} = ${value}`);
  }
  if (problems.length) return { text: null, problems };
  const parts = SECTIONS.filter((s) => bySection[s].length)
    .map((s) => `[${s}]\n${bySection[s].join("\n")}\n`);
  return { text: parts.join("\n"), problems };
}

// Which answer Grade sends: the form when any cell is filled, else the text box.
export function answerSource(grids, cells) {
  return filledCells(grids, cells) > 0 ? "form" : "text";
}

// Whether the Template button may fill the text box without asking: it is blank, or holds
// the template (or only comments and section headers) and so no typed answer.
export function holdsTypedAnswer(text) {
  return text.split("\n").some((line) => {
    const t = line.trim();
    return t !== "" && !t.startsWith("#") && !/^\[[a-z]+\]$/.test(t);
  });
}
