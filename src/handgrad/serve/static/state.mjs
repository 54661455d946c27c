// The page's state, and the problem carried in the URL's fragment. Pure: no DOM.

// One object holds what the page shows; app.mjs owns it and hands it to the panels.
export function createState() {
  return {
    problem: null,      // the current problem document (valid: the last one the server solved)
    start: null,        // the document "Reset" returns to
    result: null,       // the server's /api/solve answer for `problem`
    view: "forward",    // the network shows forward values or gradients
    instance: 0,        // the instance of a batch that the network shows
    selected: null,     // a quantity key ("h1", "dW2", ...), highlighted on both sides
    losses: [],         // loss before the first step, then after each step
    wrongKey: null,     // the grader's first wrong quantity
    formulaForm: null,  // Problem 1: {signature, values: {name: formula}, symbols}
    playing: null,      // the timer of Play
    capabilities: null, // the server's /api/capabilities answer
    generation: 0,      // bumped by Reset, edits and loads: a step answered later is dropped
    origin: null,       // where the problem came from, for the example picker (pickerChoice)
  };
}

// A document as base64url of its UTF-8 JSON: the same text as the server's encode_state.
export function encodeState(doc) {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  let binary = "";
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeState(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

// The encoded problem of a "#p=..." fragment, or null when the fragment carries none.
export function fragmentState(hash) {
  const match = hash.match(/^#p=([A-Za-z0-9_-]+)$/);
  return match ? match[1] : null;
}

export function clone(x) { return JSON.parse(JSON.stringify(x)); }

// Set doc[path[0]][path[1]]... = value, making the tables on the way.
export function setPath(doc, path, value) {
  let node = doc;
  for (let i = 0; i < path.length - 1; i++) {
    if (node[path[i]] === undefined || node[path[i]] === null) node[path[i]] = {};
    node = node[path[i]];
  }
  node[path[path.length - 1]] = value;
}

// A document as JSON with its keys sorted: two documents are the same problem when these match.
export function canonical(doc) {
  const sorted = (v) => Array.isArray(v) ? v.map(sorted)
    : v !== null && typeof v === "object"
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v;
  return JSON.stringify(sorted(doc));
}

// The example whose document `doc` is (as written in its file), or null.
export function exampleOf(examples, doc) {
  const wanted = canonical(doc);
  const i = examples.findIndex((ex) => canonical(ex.problem) === wanted);
  return i < 0 ? null : i;
}

// What the example picker shows. `origin` is where the page's problem came from: { index (an
// example, or null), label (said when it is no example), doc (its solved document, canonical) }.
// The example while the problem is still that example's; otherwise a line saying what it is.
export function pickerChoice(origin, examples, problem) {
  if (!origin) return { value: "", label: "choose an example…" };
  if (origin.index !== null) {
    const title = examples[origin.index].title;
    return origin.doc === null || origin.doc === canonical(problem)
      ? { value: String(origin.index), label: title }
      : { value: "", label: `${title} (edited or stepped)` };
  }
  return { value: "", label: origin.label };
}
