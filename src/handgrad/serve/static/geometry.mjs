// Where things go in the two pictures, the network and the loss curve. Pure: no DOM.

// The network's drawing: its units are the screen's pixels (within bounds), so text stays
// readable; each layer's neurons spread evenly over the height (a single one in the middle).
// A labelled circle is big enough for a name over a value of up to DIGITS digits (fewer
// where they do not fit), with a gap under it for the neuron's other quantity.
export function networkLayout(layers, clientWidth) {
  const L = layers.length - 1;
  const width = Math.max(340, Math.min(900, clientWidth || 720));
  const tallest = Math.max(...layers);
  // past 16 units a layer's neurons are small and unlabelled, and edges leave the tab order
  const dense = layers.some((n) => n > 16);
  const radius = dense ? 9 : 32;
  const gap = dense ? 30 : 2 * radius + 26;  // the label under a circle sits in the gap
  const top = 30 + radius;  // under the layer titles
  const bottom = dense ? 30 : radius + 26;
  const height = Math.max(220, top + bottom + (tallest - 1) * gap);
  const xs = layers.map((_, l) => 60 + (l * (width - 120)) / L);
  const pos = layers.map((n, l) => Array.from({ length: n }, (_, k) =>
    [xs[l], n === 1 ? height / 2 : top + ((height - top - bottom) * k) / (n - 1)]));
  // the width a label under a circle may take: the distance to the next layer, less a margin
  const underWidth = Math.min(110, (width - 120) / Math.max(1, L) - 8);
  return { width, height, xs, pos, dense, radius, underWidth };
}

// Whether a box { x, y, width, height } lies inside the circle (cx, cy, r), all four corners.
export function boxInCircle(box, cx, cy, r) {
  return [[box.x, box.y], [box.x + box.width, box.y], [box.x, box.y + box.height],
    [box.x + box.width, box.y + box.height]]
    .every(([x, y]) => Math.hypot(x - cx, y - cy) <= r);
}

// The widest a line of text may be inside the circle (cx, cy, r) between heights y0 and y1.
export function chordWidth(r, cy, y0, y1) {
  const far = Math.max(Math.abs(y0 - cy), Math.abs(y1 - cy));
  return far >= r ? 0 : 2 * Math.sqrt(r * r - far * far);
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

// The loss curve in a w × h box: one point per loss, the highest at the top; a flat curve
// (one loss, or every loss the same) runs through the middle. `ticks` are the labels of the
// vertical axis: its two ends, or one label where they would be the same.
export function lossCurve(losses, w = 600, h = 140, pad = 34, format = String) {
  if (losses.length < 1) return { points: [], hi: null, lo: null, ticks: [] };
  const hi = Math.max(...losses);
  const lo = Math.min(...losses);
  const top = 8; const plot = h - 30;
  const n = Math.max(1, losses.length - 1);
  const flat = format(hi) === format(lo);
  const y = (v) => top + (flat ? plot / 2 : plot * (1 - (v - lo) / (hi - lo)));
  const points = losses.map((v, i) => `${pad + ((w - pad - 12) * i) / n},${y(v)}`);
  const ticks = flat ? [{ text: format(hi), y: y(hi) }]
    : [{ text: format(hi), y: y(hi) }, { text: format(lo), y: y(lo) }];
  return { points, hi, lo, ticks };
}

// The tooltip's place in its figure: under the part, centred on it, kept inside the figure.
export function tooltipPlace(figure, target) {
  const centred = target.left - figure.left + target.width / 2 - 120;
  const left = Math.min(Math.max(0, centred), figure.width - 260);
  return { left: Math.max(0, left), top: target.bottom - figure.top + 6 };
}
