// Small helpers over the document: the thin layer the panels draw with.

export const $ = (id) => document.getElementById(id);

const SVG = "http://www.w3.org/2000/svg";

// <tag attrs...>children</tag>: "class" sets the class, "onX" adds a listener, true an empty
// attribute; null, undefined and false leave the attribute out.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) {
      node.setAttribute(k, v === true ? "" : v);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// LaTeX into `element` with KaTeX, or as plain text while KaTeX is missing or refuses it.
export function katexInto(element, tex, display = false) {
  if (window.katex) {
    try {
      window.katex.render(tex, element, { displayMode: display, throwOnError: false });
      return;
    } catch (e) { /* fall through to the plain text */ }
  }
  element.textContent = tex;
}

export function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}
