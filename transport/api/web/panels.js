// The side panels: scheduled messages, join links, join requests, search results,
// one's sessions and the users one blocks.

import { clock, el } from "./view.js";

export function renderScheduled(panel, scheduled, cancel) {
  panel.append(el("h3", {}, "Scheduled messages"));
  const pending = scheduled.filter((item) => item.status === "pending").sort((a, b) => a.send_at - b.send_at);
  if (!pending.length) panel.append(el("p", {}, "Nothing scheduled."));
  const list = el("ul", { className: "scheduled-list" });
  for (const item of pending) {
    const where = item.to ? `@${item.to}` : `#${item.room}`;
    list.append(el("li", {},
      el("span", { className: "when" }, `${new Date(item.send_at * 1000).toLocaleString()} `),
      el("span", { className: "where" }, `${where} `),
      el("span", { className: "text" }, item.text),
      el("button", { type: "button", className: "cancel", onclick: () => cancel(item.id) }, "Cancel")));
  }
  panel.append(list);
}

export function renderLinks(panel, links, revoke) {
  panel.append(el("h3", {}, "Join links"));
  if (!links.length) panel.append(el("p", {}, "No link made in this tab."));
  const list = el("ul", { className: "link-list" });
  for (const link of links) {
    const address = `${location.origin}/#join=${link.token}`;
    list.append(el("li", {},
      el("input", { className: "link", readOnly: true, value: address }),
      el("button", { type: "button", className: "revoke", onclick: () => revoke(link) }, "Revoke")));
  }
  panel.append(list);
}

export function renderRequests(panel, requests, decide) {
  panel.append(el("h3", {}, "Requests to join"));
  if (!requests.length) panel.append(el("p", {}, "No pending request."));
  const list = el("ul", { className: "request-list" });
  for (const request of requests) {
    const item = el("li", {},
      el("span", { className: "user" }, request.user),
      el("span", { className: "when" }, ` asked ${clock(request.requested_at)} `),
      el("button", { type: "button", className: "approve", onclick: () => decide(request, true) }, "Approve"),
      el("button", { type: "button", className: "reject", onclick: () => decide(request, false) }, "Reject"));
    item.dataset.user = request.user;
    list.append(item);
  }
  panel.append(list);
}

// Search results, newest first: each a button that opens the message in its room.
export function renderSearch(panel, search, roomLabel, open, more) {
  panel.append(el("h3", {}, `Messages with “${search.q}”`));
  if (search.error) panel.append(el("p", { className: "error" }, search.error));
  else if (search.loading && !search.messages.length) panel.append(el("p", {}, "Searching…"));
  else if (!search.messages.length) panel.append(el("p", {}, "No message found."));
  const list = el("ol", { className: "search-list" });
  for (const message of search.messages) {
    const button = el("button", { type: "button", className: "result", onclick: () => open(message) },
      el("span", { className: "meta" },
        el("span", { className: "where" }, roomLabel(message.room)),
        el("span", { className: "author" }, message.author),
        el("span", { className: "id" }, `#${message.id}`),
        el("time", { className: "time" }, clock(message.ts))),
      el("span", { className: "text" }, message.text || (message.file ? message.file.name : "")));
    button.dataset.id = String(message.id);
    button.dataset.room = message.room;
    list.append(el("li", {}, button));
  }
  list.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...list.querySelectorAll("button.result")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    event.preventDefault();
    const next = buttons[at + (event.key === "ArrowDown" ? 1 : -1)];
    if (next) next.focus();
  });
  panel.append(list);
  if (search.next !== null && !search.error) {
    panel.append(el("button", { type: "button", className: "more", disabled: search.loading, onclick: more }, "Older results"));
  }
}

// Who is online and when the others were last seen (GET /status); a name opens a direct room.
export function renderPeople(list, people, me, open) {
  const online = new Set(people.online);
  const seen = new Map(people.last_seen.map((entry) => [entry.name, entry.ts]));
  const names = [...new Set([...people.online, ...seen.keys()])].filter((name) => name !== me);
  names.sort((a, b) => Number(online.has(b)) - Number(online.has(a)) || (seen.get(b) || 0) - (seen.get(a) || 0) || a.localeCompare(b));
  list.replaceChildren();
  if (!names.length) list.append(el("li", { className: "hint" }, "Nobody else yet."));
  for (const name of names) {
    const here = online.has(name);
    const button = el("button", { type: "button", className: "person", title: `Message ${name}`, onclick: () => open(name) },
      el("span", { className: "presence", title: here ? "online" : "offline" }, here ? "●" : "○"),
      el("span", { className: "person-name" }, name),
      el("span", { className: "seen" }, here ? "online" : seen.has(name) ? `last seen ${clock(seen.get(name))}` : "offline"));
    button.dataset.name = name;
    button.dataset.online = String(here);
    list.append(el("li", {}, button));
  }
}

// One's open sessions, oldest first; any of them may be ended, this tab's too.
export function renderSessions(panel, sessions, end) {
  panel.append(el("h3", {}, "Your sessions"));
  if (sessions === null) { panel.append(el("p", {}, "Loading…")); return; }
  const list = el("ul", { className: "session-list" });
  for (const item of sessions) {
    const row = el("li", {},
      el("span", { className: "id" }, `#${item.id} `),
      el("span", { className: "when" }, `opened ${new Date(item.opened_at * 1000).toLocaleString()}, last active ${clock(item.last_active)} `),
      item.current ? el("strong", { className: "current" }, "(this tab) ") : null,
      el("button", { type: "button", className: "end", onclick: () => end(item) }, item.current ? "End (sign out)" : "End"));
    row.dataset.id = String(item.id);
    row.dataset.current = String(Boolean(item.current));
    list.append(row);
  }
  panel.append(list);
}

// The users one blocks, each with Unblock, and a form to block one by name.
export function renderBlocked(panel, blocked, unblock, block) {
  panel.append(el("h3", {}, "Blocked users"));
  if (blocked === null) panel.append(el("p", {}, "Loading…"));
  else if (!blocked.length) panel.append(el("p", {}, "You block nobody."));
  const list = el("ul", { className: "blocked-list" });
  for (const name of blocked || []) {
    const row = el("li", {},
      el("span", { className: "user" }, `${name} `),
      el("button", { type: "button", className: "unblock", onclick: () => unblock(name) }, "Unblock"));
    row.dataset.user = name;
    list.append(row);
  }
  panel.append(list);
  const input = el("input", { id: "block-name", placeholder: "user name", maxLength: 32, required: true, ariaLabel: "user to block" });
  const form = el("form", { className: "block-form" }, input, el("button", { type: "submit" }, "Block"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (name) block(name);
  });
  panel.append(form);
}
