// Reading the server's /api/solve answer: quantities by key, entries by neuron or edge.
// Pure: no DOM. `result` is that answer; layers are numbered 0 (input) to L (output).

export function depth(result) { return result.problem.network.layers.length - 1; }

export function batchSize(result) {
  return result.batched ? result.problem.data.x.length : 1;
}

export function quantity(result, key, section) {
  return result.quantities.find((q) => q.key === key && (!section || q.section === section));
}

// Whether a quantity holds one row per instance (H1 of a batch is (B, n); a gradient is not).
function perInstance(result, q) {
  return result.batched && Array.isArray(q.value) && Array.isArray(q.value[0]);
}

// A per-instance quantity's row for the chosen instance (vectors as they are).
export function instanceRow(result, instance, key, section) {
  const q = quantity(result, key, section);
  if (!q) return null;
  return perInstance(result, q) ? q.value[instance] : q.value;
}

// Where unit k of a per-instance quantity sits: [k] or [instance, k], 0-based.
export function unitIndex(result, q, instance, k) {
  return perInstance(result, q) ? [instance, k] : [k];
}

export function valueAt(value, index) {
  return index.reduce((v, i) => v[i], value);
}

export function param(result, name) { return result.problem.params[name]; }

// The matrix entry of the weight from unit i of layer l−1 to unit j of layer l: W is
// fan_in × fan_out in the "in_out" layout (h = Wᵀx + b) and fan_out × fan_in in "out_in".
export function weightIndex(result, i, j) {
  return result.problem.network.layout === "in_out" ? [i, j] : [j, i];
}

export function weight(result, l, i, j, grad = false) {
  const W = grad ? quantity(result, `dW${l}`, "backward").value : param(result, `W${l}`);
  return valueAt(W, weightIndex(result, i, j));
}

export function inputRow(result, instance) {
  const x = result.problem.data.x;
  return result.batched ? x[instance] : x;
}

// The quantity a click on a neuron of layer l selects (none for the input).
export function nodeKey(result, view, l) {
  const L = depth(result);
  if (l === 0) return null;
  if (view === "backward") return l === L ? "dz" : `dh${l}`;
  return l === L ? "yhat" : `a${l}`;
}

// The network's parts that show a quantity key, as selectors: W2 and dW2 its edges, b1, h1,
// a1 and their gradients the neurons of layer 1, the output's quantities the last layer.
export function partSelectors(result, key) {
  if (!key) return [];
  const m = key.match(/^(d?)([A-Za-z]+)(\d*)$/);
  if (!m) return [];
  const [, , base, num] = m;
  const L = depth(result);
  if (base === "W") return [`#net .edge.layer${num}`];
  if (["b", "h", "a"].includes(base)) return [`#net .node.layer${num}`];
  if (["z", "yhat", "ys", "loss"].includes(base)) return [`#net .node.layer${L}`];
  return [];
}
