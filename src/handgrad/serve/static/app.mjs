// The handgrad playground. Every number shown comes from the server (/api/...): this page
// draws, formats and edits; it never computes a gradient. This module holds the page's one
// state, solves through the server, and wires the controls to the panels.
import { api, exportFile } from "./api.mjs";
import { drawDerivation } from "./derivation.mjs";
import { $, el, showError } from "./dom.mjs";
import { edited, resize } from "./edits.mjs";
import { drawEditor } from "./editor.mjs";
import { drawAnswerForm, setupGrading } from "./grading.mjs";
import { applyHighlights, drawNetwork } from "./network.mjs";
import { batchSize } from "./quantities.mjs";
import { drawSolution } from "./solution.mjs";
import {
  canonical, clone, createState, decodeState, encodeState, exampleOf, fragmentState, pickerChoice,
} from "./state.mjs";
import { drawLossCurve, startPlaying, stopPlaying, takeSteps } from "./stepping.mjs";
import { summary } from "./tooltips.mjs";

const state = createState();
let examples = [];  // the server's built-in examples, for the picker

// Where the problem came from (an example's index, or null and a label): the picker shows it.
function setOrigin(index, label = "") {
  state.origin = { index, label, doc: null };
}

function showPicker() {
  const picker = $("examples");
  if (!picker.options.length) return;
  const choice = pickerChoice(state.origin, examples, state.problem);
  picker.options[0].textContent = choice.label;
  picker.options[0].hidden = choice.value !== "";
  picker.value = choice.value;
}

// What the Edit panel may do to the problem.
const editing = {
  stale() { state.generation += 1; },
  edit: (path, value, transform) => solve(edited(state.problem, path, value, transform)),
  async structural(change) {
    state.generation += 1;
    const doc = clone(state.problem);
    change(doc);
    resize(doc);
    try { await solve(doc); } catch (e) { showError(e.message); }
  },
};

// Solve `doc`; on success it becomes the state, on failure the last valid state stays.
async function solve(doc, { keepLosses = false } = {}) {
  const result = await api("/api/solve", { problem: doc });
  state.problem = result.document;
  state.result = result;
  if (state.origin && state.origin.doc === null) state.origin.doc = canonical(state.problem);
  state.wrongKey = null;  // a grade belongs to the problem it was given for
  $("grade-result").replaceChildren();
  if (!keepLosses) state.losses = [result.solution.history[0]];
  state.instance = Math.min(state.instance, batchSize(result) - 1);
  showError("");
  history.replaceState(null, "", "#p=" + encodeState(state.problem));
  render();
  return result;
}

function render() {
  $("summary").textContent = summary(state.result);
  showPicker();
  const instances = batchSize(state.result);
  $("instance-label").hidden = instances <= 1;
  $("instance").replaceChildren(...Array.from({ length: instances }, (_, i) =>
    el("option", { value: i, selected: i === state.instance }, String(i + 1))));
  drawNetwork(state);
  drawSolution(state);
  drawEditor(state, editing);
  drawLossCurve(state);
  drawAnswerForm(state);
  applyHighlights(state);
  if (!$("panel-derivation").hidden) drawDerivation(state);
}

function setupTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const activate = (tab) => {
    tabs.forEach((t) => {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    });
    if (tab.id === "tab-derivation") drawDerivation(state);
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => activate(tab));
    tab.addEventListener("keydown", (e) => {
      const next = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (next) { const t = tabs[(i + next + tabs.length) % tabs.length]; t.focus(); activate(t); }
    });
  });
}

async function download(format) {
  try {
    const { blob, name } = await exportFile(state.problem, format);
    const link = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(link); link.click(); link.remove();
  } catch (e) { showError(e.message); }
}

// Start again from `doc`: Reset, an example, a new variant.
async function restart(doc) {
  stopPlaying(state);
  state.generation += 1;
  try { await solve(doc); } catch (e) { showError(e.message); }
}

const step = (n) => takeSteps(state, n, solve, showError);

function setupControls() {
  setupTabs();
  document.querySelectorAll("input[name=view]").forEach((r) => r.addEventListener("change", () => {
    state.view = r.value;
    drawNetwork(state);
  }));
  $("instance").addEventListener("change", (e) => {
    state.instance = Number(e.target.value);
    drawNetwork(state);
  });
  $("step").addEventListener("click", () => step(1));
  $("step-n").addEventListener("click", () => {
    step(Math.max(1, Math.min(500, Math.round(Number($("step-count").value) || 1))));
  });
  $("play").addEventListener("click", () => {
    if (state.playing) stopPlaying(state); else startPlaying(state, () => step(1));
  });
  $("reset").addEventListener("click", () => restart(state.start));
  setupGrading(state);
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      $("copy-link").textContent = "Link copied";
    } catch (e) { showError(`copy this address: ${location.href}`); }
  });
  document.querySelectorAll("[data-export]").forEach((b) => {
    b.addEventListener("click", () => download(b.dataset.export));
  });
  $("variant").addEventListener("click", async () => {
    try {
      const seed = Math.floor(Math.random() * 1e9);
      stopPlaying(state); state.generation += 1;
      // the generator's limits: a network beyond them gets a variant of the seed's shape
      const current = state.problem.network.layers;
      const layers = current.length <= 4 && Math.max(...current) <= 8 ? current : [2, 3, 3];
      const made = await api("/api/generate", { seed, layers });
      setOrigin(null, `new variant (seed ${seed})`);
      state.start = made.problem; await solve(made.problem);
    } catch (e) { showError(e.message); }
  });
}

async function main() {
  setupControls();
  const encoded = fragmentState(location.hash);
  // the three start-up questions at once; the first solution is drawn as soon as it can be
  let capabilities; let started;
  [examples, capabilities, started] = await Promise.all([
    api("/api/examples"), api("/api/capabilities"),
    location.hash.startsWith("#p=") ? Promise.resolve(null) : api("/api/start"),
  ]);
  const picker = $("examples");
  picker.append(el("option", { value: "" }, "choose an example…"));
  examples.forEach((ex, i) => picker.append(el("option", { value: i }, ex.title)));
  picker.addEventListener("change", () => {
    if (picker.value === "") return;
    const doc = examples[Number(picker.value)].problem;
    setOrigin(Number(picker.value));
    state.start = doc; state.instance = 0;
    restart(doc);
  });
  state.capabilities = capabilities;
  $("export-pdf").disabled = !capabilities.pdf;
  if (!capabilities.pdf) $("export-pdf").title = "needs pdflatex on the server";
  let doc = null;
  if (encoded) {
    try { doc = decodeState(encoded); } catch (e) {
      showError("the link's problem could not be read; showing the start problem");
    }
  }
  const startFrom = (d, label) => { setOrigin(exampleOf(examples, d), label); state.start = d; };
  if (doc) startFrom(doc, "problem from the link");
  else startFrom(doc = (started || (await api("/api/start"))).problem, "the start problem");
  try { await solve(doc); } catch (e) {
    showError(`${e.message} (showing the start problem instead)`);
    doc = (await api("/api/start")).problem; startFrom(doc, "the start problem");
    await solve(doc);
  }
  document.body.dataset.readyAt = String(Math.round(performance.now()));
  document.body.dataset.ready = "true";
}

window.addEventListener("DOMContentLoaded", () => { main().catch((e) => showError(e.message)); });
