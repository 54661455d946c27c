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
    playing: null,      // the timer of Play
    capabilities: null, // the server's /api/capabilities answer
    generation: 0,      // bumped by Reset, edits and loads: a step answered later is dropped
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
