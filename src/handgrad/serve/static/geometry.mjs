// Where things go in the two pictures, the network and the loss curve. Pure: no DOM.

// The network's drawing: its units are the screen's pixels (within bounds), so text stays
// readable; each layer's neurons spread evenly over the height (a single one in the middle).
export function networkLayout(layers, clientWidth) {
  const L = layers.length - 1;
  const width = Math.max(340, Math.min(900, clientWidth || 720));
  const tallest = Math.max(...layers);
  const gap = tallest > 12 ? 30 : 70;
  const height = Math.max(220, 100 + tallest * gap);
  const xs = layers.map((_, l) => 60 + (l * (width - 120)) / L);
  const pos = layers.map((n, l) => Array.from({ length: n }, (_, k) =>
    [xs[l], n === 1 ? height / 2 : 45 + ((height - 95) * k) / (n - 1)]));
  // past 16 units a layer's neurons are small and unlabelled, and edges leave the tab order
  const dense = layers.some((n) => n > 16);
  return { width, height, xs, pos, dense, radius: dense ? 9 : 20 };
}

// An edge's stroke: its sign as the colour, its size against the largest as width and opacity.
export function edgeStyle(value, biggest) {
  const share = Math.abs(value) / biggest;
  return {
    stroke: value >= 0 ? "var(--pos)" : "var(--neg)",
    width: (0.5 + 5 * share).toFixed(2),
    opacity: (0.25 + 0.6 * share).toFixed(2),
  };
}

// The loss curve in a w × h box: one point per loss, the highest at the top.
export function lossCurve(losses, w = 600, h = 140, pad = 34) {
  if (losses.length < 1) return { points: [], hi: null, lo: null };
  const hi = Math.max(...losses);
  const lo = Math.min(...losses);
  const span = hi - lo || 1;
  const n = Math.max(1, losses.length - 1);
  const points = losses.map((v, i) =>
    `${pad + ((w - pad - 12) * i) / n},${8 + (h - 30) * (1 - (v - lo) / span)}`);
  return { points, hi, lo };
}

// The tooltip's place in its figure: under the part, centred on it, kept inside the figure.
export function tooltipPlace(figure, target) {
  const centred = target.left - figure.left + target.width / 2 - 120;
  const left = Math.min(Math.max(0, centred), figure.width - 260);
  return { left: Math.max(0, left), top: target.bottom - figure.top + 6 };
}
