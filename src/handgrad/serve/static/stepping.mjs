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

// The loss after each step. The drawing's units are the screen's pixels (its width is the
// box's), so its text is as large on a phone as elsewhere.
export function drawLossCurve(state) {
  const box = $("loss-curve");
  box.replaceChildren();
  const w = Math.max(240, Math.round(box.clientWidth || 600)); const h = 140;
  box.setAttribute("viewBox", `0 0 ${w} ${h}`);
  const losses = state.losses;
  document.body.classList.toggle("stepped", losses.length > 1);  // print the curve only then
  const steps = losses.length - 1;
  $("loss-now").textContent = losses.length
    ? `L = ${fmt(losses[steps])} after ${steps} step${steps === 1 ? "" : "s"}` : "";
  const longest = losses.length ? Math.max(...losses.map((v) => fmt(v).length)) : 4;
  const pad = 10 + 7 * longest;  // the axis labels' width, at 12px
  box.append(svg("path", { d: `M${pad},8 V${h - 20} H${w - 8}`, class: "axis", fill: "none" }));
  if (losses.length < 1) return;
  const curve = lossCurve(losses, w, h, pad, (v) => fmt(v));
  box.append(svg("polyline", { points: curve.points.join(" "), class: "curve" }));
  const [x, y] = curve.points.at(-1).split(",");  // the loss now: a dot, seen before any step
  box.append(svg("circle", { cx: x, cy: y, r: 3.5, class: "now" }));
  for (const tick of curve.ticks) {
    const t = svg("text", { x: pad - 4, y: tick.y + 4, class: "tick" });
    t.textContent = tick.text; box.append(t);
  }
  const t = svg("text", { x: w - 8, y: h - 4, class: "steps" });
  t.textContent = steps ? `${steps} step${steps === 1 ? "" : "s"}` : "no steps yet: press Step";
  box.append(t);
}
