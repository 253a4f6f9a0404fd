// One message of a room as a list item: author, time, #id, text, file, comments.
// Text is set with textContent only.

import { clock, el, isRaster, size } from "./view.js";
import { download } from "./api.js";

export function messageItem(message, me, actions) {
  const item = el("li", { className: "message" });
  item.dataset.id = String(message.id);
  fill(item, message, me, actions);
  return item;
}

// Redraw a message in place (a comment, an edit, a deletion).
export function updateMessage(item, message, me) {
  fill(item, message, me, item.actions);
}

function fill(item, message, me, actions) {
  item.actions = actions;
  const thread = item.querySelector(".thread");
  item.replaceChildren();
  item.classList.toggle("own", message.author === me);
  item.classList.toggle("deleted", Boolean(message.deleted));
  const meta = el("div", { className: "meta" },
    el("span", { className: "author" }, message.author),
    el("time", { className: "time", dateTime: new Date(message.ts * 1000).toISOString() }, clock(message.ts)),
    el("span", { className: "id" }, `#${message.id}`),
    message.edited && !message.deleted ? el("span", { className: "edited" }, "(edited)") : null,
    message.scheduled ? el("span", { className: "scheduled-mark" }, "(scheduled)") : null);
  const text = el("div", { className: "text" }, message.deleted ? "(deleted)" : message.text);
  item.append(meta, text);
  if (message.file && !message.deleted) item.append(fileBlock(message, actions));
  const buttons = el("div", { className: "actions" },
    el("button", { type: "button", className: "comments", onclick: () => actions.toggleThread(message, item) },
      `${message.comments || 0} comment${message.comments === 1 ? "" : "s"}`),
    message.author === me && !message.file ? el("button", { type: "button", className: "edit", onclick: () => actions.edit(message) }, "edit") : null,
    message.author === me ? el("button", { type: "button", className: "delete", onclick: () => actions.remove(message) }, "delete") : null,
    message.author !== me ? el("button", { type: "button", className: "report", onclick: () => actions.report(message) }, "report") : null,
    message.author !== me ? el("button", { type: "button", className: "block", onclick: () => actions.block(message) }, "block") : null);
  item.append(buttons);
  item.append(thread || threadBlock(message, actions));
}

function fileBlock(message, actions) {
  const file = message.file;
  const block = el("div", { className: "file" },
    el("button", { type: "button", className: "download", onclick: () => actions.download(message) },
      `⤓ ${file.name}`),
    el("span", { className: "file-size" }, ` ${size(file.size)}`));
  if (isRaster(file.content_type) && file.size <= 5 * 1024 * 1024) {
    const image = el("img", { className: "preview", alt: file.name, loading: "lazy" });
    block.append(image);
    download(`/messages/${message.id}/file`)
      .then((blob) => { image.src = URL.createObjectURL(blob); })
      .catch(() => image.remove());
  }
  return block;
}

function threadBlock(message, actions) {
  const input = el("input", { className: "comment-text", placeholder: "Comment (Enter sends)", maxLength: 4000 });
  const form = el("form", { className: "comment-form" }, input, el("button", { type: "submit" }, "Comment"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    try {
      await actions.comment(message, text);
      input.value = "";
    } catch (error) {
      input.setCustomValidity(error.message);
      input.reportValidity();
      setTimeout(() => input.setCustomValidity(""), 3000);
    }
  });
  return el("div", { className: "thread", hidden: true }, el("ol", { className: "comment-list" }), form);
}

export function commentItem(comment) {
  const item = el("li", { className: "comment" },
    el("span", { className: "author" }, comment.author),
    el("time", { className: "time" }, clock(comment.ts)),
    el("span", { className: "text" }, comment.text));
  item.dataset.id = String(comment.id);
  return item;
}
