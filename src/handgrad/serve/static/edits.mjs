// Changes to a problem document made in the Edit panel. Pure: no DOM; the server validates
// every result, these only shape what is sent.
import { clone, setPath } from "./state.mjs";

export function number(text) {
  const v = Number(String(text).trim());
  if (String(text).trim() === "" || !isFinite(v)) throw new Error(`'${text}' is not a number`);
  return v;
}

export function parseLayers(text) {
  const parts = String(text).split(",").map((p) => p.trim());
  const sizes = parts.map(Number);
  if (parts.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error("give positive integer sizes separated by commas, e.g. 2,3,3");
  }
  return sizes;
}

// Class labels typed as "0,1,1" (or one label, for a single instance).
export function parseLabels(text, current) {
  const v = String(text).split(",").map((s) => number(s));
  return v.length === 1 && !Array.isArray(current) ? v[0] : v;
}

export function hasLabels(doc) {
  return doc.data.label !== undefined && doc.data.label !== null;
}

// `doc` with one value changed, and then `transform` applied; `doc` itself stays as it was.
export function edited(doc, path, value, transform) {
  const changed = clone(doc);
  setPath(changed, path, value);
  if (transform) transform(changed);
  return changed;
}

// Changing the layer sizes redraws the parameters from network.seed (the server does it) and
// fits x and y to the new input and output sizes.
export function resize(doc) {
  const layers = doc.network.layers;
  delete doc.params;
  const fit = (v, n) => Array.from({ length: n }, (_, i) => (v && v[i] !== undefined ? v[i] : 0));
  const batched = Array.isArray(doc.data.x[0]);
  doc.data.x = batched ? doc.data.x.map((r) => fit(r, layers[0])) : fit(doc.data.x, layers[0]);
  const q = layers[layers.length - 1];
  if (hasLabels(doc)) {
    const clamp = (c) => Math.min(c, q - 1);
    const label = doc.data.label;
    doc.data.label = Array.isArray(label) ? label.map(clamp) : clamp(label);
  } else {
    // a target row becomes one-hot at its largest entry, cut or padded to q classes
    const onehot = (r) => {
      const k = Math.max(0, Math.min(q - 1, (r || []).indexOf(Math.max(...(r || [1])))));
      return fit([], q).map((_, i) => (i === k ? 1 : 0));
    };
    doc.data.y = Array.isArray(doc.data.y[0]) ? doc.data.y.map(onehot) : onehot(doc.data.y);
  }
}

// The buttons that change the network's shape; the last hidden layer is the one that changes.
export const structuralChanges = {
  addLayer(d) { d.network.layers.splice(d.network.layers.length - 1, 0, 3); },
  removeLayer(d) {
    if (d.network.layers.length > 2) d.network.layers.splice(d.network.layers.length - 2, 1);
  },
  addUnit(d) { d.network.layers[d.network.layers.length - 2] += 1; },
  removeUnit(d) { d.network.layers[d.network.layers.length - 2] -= 1; },
};

// Cross-entropy's smoothing settings mean nothing for squared error: reset with the kind.
export function lossKindChanged(d) {
  if (d.loss.kind !== "cross_entropy") { d.loss.label_smoothing = 0; d.loss.smoothing = "uniform"; }
}

// Layout changes the meaning of every weight matrix: draw new ones rather than transpose.
export function layoutChanged(d) { delete d.params; }
