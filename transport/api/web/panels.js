// The room's side panels: scheduled messages, join links, join requests.

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
