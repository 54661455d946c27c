// Gradient steps: Step, Step ×N, Play and the loss curve. The server takes the steps.
import { api } from "./api.mjs";
import { $, svg } from "./dom.mjs";
import { fmt } from "./format.mjs";
import { lossCurve } from "./geometry.mjs";
import { flashChanges } from "./network.mjs";

// `solve(doc, options)` is the page's: it makes the stepped problem the state.
export async function takeSteps(state, n, solve, showError) {
  const generation = state.generation;
  try {
    const before = state.problem.params;
    const stepped = await api("/api/step", { problem: state.problem, steps: n });
    if (generation !== state.generation) return;  // reset or edited meanwhile
    const kept = state.losses.slice();
    await solve(stepped.problem, { keepLosses: true });
    state.losses = kept.concat(stepped.losses.slice(1));
    drawLossCurve(state);
    flashChanges(before, state.problem.params, state.problem.network.layers);
  } catch (e) { showError(e.message); stopPlaying(state); }
}

export function startPlaying(state, step) {
  $("play").textContent = "Pause"; $("play").setAttribute("aria-pressed", "true");
  let busy = false;  // one step at a time, however slow the server
  state.playing = setInterval(async () => {
    if (busy) return;
    busy = true;
    await step();
    busy = false;
  }, 350);
}

export function stopPlaying(state) {
  if (state.playing) { clearInterval(state.playing); state.playing = null; }
  $("play").textContent = "Play"; $("play").setAttribute("aria-pressed", "false");
}

export function drawLossCurve(state) {
  const box = $("loss-curve");
  box.replaceChildren();
  const w = 600; const h = 140; const pad = 34;
  box.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const losses = state.losses;
  document.body.classList.toggle("stepped", losses.length > 1);  // print the curve only then
  const steps = losses.length - 1;
  $("loss-now").textContent = losses.length
    ? `L = ${fmt(losses[steps], 6)} after ${steps} step${steps === 1 ? "" : "s"}` : "";
  box.append(svg("path", { d: `M${pad},8 V${h - 20} H${w - 8}`, class: "axis", fill: "none" }));
  if (losses.length < 1) return;
  const curve = lossCurve(losses, w, h, pad);
  box.append(svg("polyline", { points: curve.points.join(" "), class: "curve" }));
  for (const [text, y] of [[fmt(curve.hi, 4), 14], [fmt(curve.lo, 4), h - 22]]) {
    const t = svg("text", { x: 2, y }); t.textContent = text; box.append(t);
  }
  const t = svg("text", { x: w - 60, y: h - 4 });
  t.textContent = `${steps} steps`;
  box.append(t);
}
