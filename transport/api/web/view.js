// DOM helpers. Every piece of text from the server (messages, names, file
// names) goes in with textContent: it is shown, never parsed as HTML.

export function $(id) {
  return document.getElementById(id);
}

// el("li", {className: "x", dataset: {id: 3}}, "text", child, ...)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "onclick" || key === "onsubmit" || key === "onkeydown") node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
}

export function clock(ts) {
  const date = new Date(ts * 1000);
  const now = new Date();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.toLocaleDateString()} ${time}`;
}

export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const RASTER = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function isRaster(contentType) {
  return RASTER.has(String(contentType).split(";")[0].trim().toLowerCase());
}

// A small modal question; resolves to the answer ("" when left empty), or null when cancelled.
// With withInput false it is a yes/no question: "" for OK, null for Cancel.
export function ask(label, initial = "", { withInput = true } = {}) {
  const dialog = $("ask");
  $("ask-label").textContent = label;
  const input = $("ask-input");
  input.value = initial;
  input.hidden = !withInput;
  return new Promise((resolve) => {
    const done = (value) => {
      $("ask-form").removeEventListener("submit", submit);
      $("ask-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const submit = (event) => { event.preventDefault(); done(input.value.trim()); };
    const cancel = (event) => { event.preventDefault(); done(null); };
    $("ask-form").addEventListener("submit", submit);
    $("ask-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    dialog.showModal();
    if (withInput) input.focus();
    else $("ask-ok").focus();
  });
}

export function confirmed(label) {
  return ask(label, "", { withInput: false }).then((answer) => answer !== null);
}
