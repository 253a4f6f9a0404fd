// The web client: sign in, rooms and direct messages with unread counts, the
// room's messages live from the event stream, and everything the CLI can do.
// Plain JavaScript modules, no build step (README: "The web client").

import { ApiError, call, download, encode, idempotencyKey, session, upload } from "./api.js";
import { Feed } from "./feed.js";
import { $, ask, clear, confirmed, el } from "./view.js";
import { messageItem, updateMessage, commentItem } from "./messages.js";
import { renderBlocked, renderLinks, renderPeople, renderRequests, renderScheduled, renderSearch, renderSessions } from "./panels.js";

const MAX_FILE_BYTES = Number(document.querySelector('meta[name="chat-max-file-bytes"]').content);
const HISTORY = 50;

const state = {
  me: null,
  rooms: new Map(), // id -> room
  unread: new Map(), // id -> {base, ids: Set of message ids}
  readUpTo: new Map(), // id -> the highest message id read in any tab of this user
  messages: new Map(), // room id -> Map(message id -> message)
  loaded: new Set(), // rooms whose history is loaded
  current: "general",
  pendingDm: null, // a user to write to before the direct room exists
  scheduled: new Map(),
  links: [], // {room, token} made in this tab
  requests: new Map(), // room -> pending requests
  panel: null,
  search: null, // {q, messages, next, loading, error}: the last search of this tab
  people: { online: [], last_seen: [] }, // presence from GET /status
  sessions: null, // GET /sessions, while its panel is open
  blocked: null, // GET /blocked, while its panel is open
  editing: null, // the id of the own message being edited
  feed: null,
};

const channel = "BroadcastChannel" in window ? new BroadcastChannel("chat") : null;

// ---- starting and stopping ----

async function boot() {
  wireUi();
  if (!session.token) return showLogin("");
  try {
    await start(await call("GET", "/status"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin("Your session has ended; sign in again.");
    showLogin(describe(error));
  }
}

function showLogin(message) {
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-name").focus();
}

async function login(event) {
  event.preventDefault();
  const name = $("login-name").value.trim();
  const password = $("login-password").value;
  $("login-submit").disabled = true;
  try {
    const answer = await call("POST", "/connect", { name, password });
    session.save(answer.token, answer.user.name);
    $("login-password").value = "";
    await start(answer);
  } catch (error) {
    $("login-error").textContent = describe(error);
  } finally {
    $("login-submit").disabled = false;
  }
}

async function start(status) {
  state.me = status.user.name;
  state.rooms.clear();
  state.unread.clear();
  state.messages.clear();
  state.loaded.clear();
  for (const room of status.rooms) addRoom(room, room.unread || 0);
  showPeople(status);
  $("me").textContent = state.me;
  $("login").hidden = true;
  $("chat").hidden = false;
  if (state.feed) state.feed.stop();
  state.feed = new Feed({
    after: status.offset,
    log: status.log,
    onEvent: handle,
    onResync: resync,
    onState: showConnection,
    onUnauthorized: () => ended(),
  });
  state.feed.start();
  const saved = sessionStorage.getItem("chat.room");
  await openRoom(saved && state.rooms.has(saved) ? saved : "general");
  loadScheduled();
  joinFromFragment();
}

function ended(message = "Your session has ended; sign in again.") {
  if (state.feed) state.feed.stop();
  state.feed = null;
  session.clear();
  sessionStorage.removeItem("chat.room");
  closePanel();
  showLogin(message);
}

async function logout() {
  try { await call("POST", "/disconnect"); } catch { /* gone already */ }
  if (state.feed) state.feed.stop();
  state.feed = null;
  session.clear();
  sessionStorage.removeItem("chat.room");
  showLogin("");
}

async function resync(error) {
  const status = await call("GET", "/status");
  notice(`The server's log changed (${error.message}); showing it from now on.`);
  state.rooms.clear();
  state.messages.clear();
  state.loaded.clear();
  for (const room of status.rooms) addRoom(room, room.unread || 0);
  await openRoom(state.rooms.has(state.current) ? state.current : "general");
  return status;
}

function showConnection(what) {
  const label = { live: "live", polling: "live (polling)", offline: "reconnecting…" }[what] || what;
  $("connection").textContent = label;
  $("connection").dataset.state = what;
}

// ---- rooms and unread counts ----

function addRoom(room, unread = 0) {
  const known = state.rooms.get(room.id);
  state.rooms.set(room.id, { ...known, ...room });
  if (!state.unread.has(room.id)) state.unread.set(room.id, { base: unread, ids: new Set() });
  renderRooms();
}

function unreadOf(id) {
  const count = state.unread.get(id);
  return count ? count.base + count.ids.size : 0;
}

function markRead(id) {
  const messages = state.messages.get(id);
  const upto = messages && messages.size ? Math.max(...messages.keys()) : 0;
  applyRead(id, upto);
  if (channel) channel.postMessage({ user: state.me, type: "read", room: id, upto });
}

function applyRead(id, upto) {
  state.readUpTo.set(id, Math.max(upto, state.readUpTo.get(id) || 0));
  const count = state.unread.get(id);
  if (count) {
    count.base = 0;
    for (const messageId of [...count.ids]) if (messageId <= upto) count.ids.delete(messageId);
  }
  renderRooms();
}

function roomOrder(a, b) {
  const rank = { general: 0, group: 1, direct: 2 };
  return (rank[a.kind] ?? 3) - (rank[b.kind] ?? 3) || a.name.localeCompare(b.name);
}

function renderRooms() {
  const list = $("rooms");
  clear(list);
  let total = 0;
  for (const room of [...state.rooms.values()].sort(roomOrder)) {
    const unread = unreadOf(room.id);
    total += unread;
    const label = room.kind === "direct" ? `@${room.name}` : `#${room.name}`;
    const here = room.kind === "direct" && state.people.online.includes(room.name);
    const button = el("button", { type: "button", className: "room-button", onclick: () => openRoom(room.id) },
      el("span", { className: "room-name" }, label,
        here ? el("span", { className: "presence", title: "online" }, " ●") : null),
      unread ? el("span", { className: "unread", title: "unread" }, String(unread)) : null);
    button.dataset.room = room.id;
    if (room.id === state.current && !state.pendingDm) button.setAttribute("aria-current", "true");
    list.append(el("li", {}, button));
  }
  document.title = total ? `(${total}) chat` : "chat";
}

async function refreshRooms() {
  const answer = await call("GET", "/rooms");
  for (const room of answer.rooms) addRoom(room, room.unread || 0);
}

// focus: a message id to show (a search result), loading older pages until it is there.
async function openRoom(id, focus = null) {
  state.pendingDm = null;
  state.current = id;
  state.editing = null;
  sessionStorage.setItem("chat.room", id);
  closePanel();
  renderHead();
  renderMessages();
  if (!state.loaded.has(id)) {
    try {
      const page = await call("GET", `/rooms/${encode(id)}/messages?limit=${HISTORY}`);
      const messages = roomMessages(id);
      for (const message of page.messages) if (!messages.has(message.id)) messages.set(message.id, message);
      state.loaded.add(id);
      if (state.current === id) renderMessages();
    } catch (error) {
      notice(describe(error));
    }
  }
  if (state.current === id) markRead(id);
  if (focus !== null && state.current === id) return showMessage(id, focus);
  $("text").focus();
  return undefined;
}

async function showMessage(room, id) {
  const messages = roomMessages(room);
  try {
    for (let pages = 0; !messages.has(id) && pages < 20; pages += 1) {
      const oldest = Math.min(...messages.keys(), id + 1);
      const page = await call("GET", `/rooms/${encode(room)}/messages?limit=500&before=${oldest}`);
      for (const message of page.messages) if (!messages.has(message.id)) messages.set(message.id, message);
      if (!page.messages.length || page.next_before === null) break;
    }
  } catch (error) {
    notice(describe(error));
  }
  if (state.current !== room) return;
  renderMessages();
  const item = document.querySelector(`#messages li.message[data-id="${id}"]`);
  if (!item) { notice(`Message #${id} is no longer there.`); return; }
  for (const other of document.querySelectorAll("#messages li.found")) other.classList.remove("found");
  item.classList.add("found");
  item.tabIndex = -1;
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
}

function openDm(name) {
  const existing = [...state.rooms.values()].find(
    (room) => room.kind === "direct" && room.members.some((m) => m.toLowerCase() === name.toLowerCase()) && room.members.length === 2 && room.name.toLowerCase() === name.toLowerCase());
  if (existing) return openRoom(existing.id);
  state.pendingDm = name;
  state.current = null;
  closePanel();
  renderHead();
  renderMessages();
  $("text").focus();
}

function renderHead() {
  const room = state.rooms.get(state.current);
  const owner = room && room.kind === "group" && room.owner === state.me;
  $("room-title").textContent = state.pendingDm ? `@${state.pendingDm}` : room ? (room.kind === "direct" ? `@${room.name}` : `#${room.name}`) : "";
  $("room-members").textContent = room ? room.members.join(", ") : "";
  $("invite").hidden = !owner;
  $("make-link").hidden = !owner;
  $("show-requests").hidden = !owner;
  $("leave").hidden = !(room && room.kind === "group");
  $("request-count").textContent = owner && (state.requests.get(room.id) || []).length ? String(state.requests.get(room.id).length) : "";
  renderRooms();
}

// ---- who is online ----

const PEOPLE_EVERY_MS = 30000;

function showPeople(status) {
  state.people = { online: status.online || [], last_seen: status.last_seen || [] };
  const others = state.people.online.filter((name) => name !== state.me).length;
  $("online-count").textContent = others ? `(${others} online)` : "";
  renderPeople($("people"), state.people, state.me, openDm);
  renderRooms();
}

async function refreshPeople() {
  if (!session.token || !state.me) return;
  try {
    showPeople(await call("GET", "/status"));
  } catch (error) {
    notice(describe(error));
  }
}

// ---- messages ----

function roomMessages(id) {
  if (!state.messages.has(id)) state.messages.set(id, new Map());
  return state.messages.get(id);
}

function renderMessages() {
  const list = $("messages");
  clear(list);
  if (!state.current) return;
  const messages = [...roomMessages(state.current).values()].sort((a, b) => a.id - b.id);
  for (const message of messages) list.append(messageItem(message, state.me, actions));
  list.scrollTop = list.scrollHeight;
}

function addMessage(message) {
  const messages = roomMessages(message.room);
  const known = messages.has(message.id);
  messages.set(message.id, { ...messages.get(message.id), ...message });
  if (!state.rooms.has(message.room)) refreshRooms().catch(() => {});
  if (known) return;
  if (message.room === state.current) {
    const list = $("messages");
    const pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const item = messageItem(message, state.me, actions);
    const later = [...list.children].find((li) => Number(li.dataset.id) > message.id);
    list.insertBefore(item, later || null);
    if (pinned || message.author === state.me) list.scrollTop = list.scrollHeight;
    if (document.visibilityState === "visible") markRead(message.room);
  } else if (message.author !== state.me && message.id > (state.readUpTo.get(message.room) || 0)) {
    const count = state.unread.get(message.room) || { base: 0, ids: new Set() };
    count.ids.add(message.id);
    state.unread.set(message.room, count);
    renderRooms();
  }
}

const actions = {
  async download(message) {
    try {
      const blob = await download(`/messages/${message.id}/file`);
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: message.file.name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      notice(describe(error));
    }
  },
  async report(message) {
    const reason = await ask(`Report ${message.author}? Reason (optional):`);
    if (reason === null) return; // cancelled
    try {
      await call("POST", `/users/${encode(message.author)}/report`, reason ? { reason } : {});
      notice(`Reported ${message.author}.`);
    } catch (error) {
      notice(describe(error));
    }
  },
  block(message) {
    return block(message.author);
  },
  edit(message) {
    startEditing(message);
  },
  async remove(message) {
    if (!(await confirmed(`Delete your message #${message.id}, its comments and file?`))) return;
    try {
      await call("DELETE", `/messages/${message.id}`);
      removeMessage(message.room, message.id);
      notice(`Deleted #${message.id}.`);
    } catch (error) {
      notice(describe(error));
    }
    $("text").focus();
  },
  async toggleThread(message, item) {
    const thread = item.querySelector(".thread");
    if (!thread.hidden) { thread.hidden = true; return; }
    thread.hidden = false;
    const list = thread.querySelector("ol");
    clear(list);
    try {
      let after = 0;
      for (;;) {
        const page = await call("GET", `/messages/${message.id}/comments?limit=500&after=${after}`);
        for (const comment of page.comments) list.append(commentItem(comment));
        if (page.next === null) break;
        after = page.next;
      }
    } catch (error) {
      notice(describe(error));
    }
    thread.querySelector("input").focus();
  },
  async comment(message, text) {
    await call("POST", `/messages/${message.id}/comments`, { text });
  },
};

function onComment(comment) {
  const message = roomMessages(comment.room).get(comment.message);
  if (message) {
    message.comments = (message.comments || 0) + 1;
    const item = document.querySelector(`li.message[data-id="${comment.message}"]`);
    if (item) {
      updateMessage(item, message, state.me);
      const thread = item.querySelector(".thread");
      if (!thread.hidden) thread.querySelector("ol").append(commentItem(comment));
    }
  }
}

// message.edited carries the message as it is now; message.deleted its id and room.
function onEdited(event) {
  if (event.type === "message.deleted") return removeMessage(event.room, Number(event.message));
  if (event.message && typeof event.message === "object") return showEdited(event.message);
  return undefined;
}

function showEdited(changed) {
  const messages = state.messages.get(changed.room);
  const message = messages && messages.get(changed.id);
  if (!message) return;
  Object.assign(message, changed);
  const item = document.querySelector(`#messages li.message[data-id="${changed.id}"]`);
  if (item && changed.room === state.current) updateMessage(item, message, state.me);
}

function removeMessage(room, id) {
  const messages = state.messages.get(room);
  if (messages) messages.delete(id);
  const count = state.unread.get(room);
  if (count && count.ids.delete(id)) renderRooms();
  if (state.editing === id) {
    state.editing = null;
    $("text").value = "";
    notice(`Message #${id} was deleted.`);
  }
  if (state.search && state.search.messages.some((message) => message.id === id)) {
    state.search.messages = state.search.messages.filter((message) => message.id !== id);
    if (state.panel === "search") renderPanel();
  }
  if (room !== state.current) return;
  const item = document.querySelector(`#messages li.message[data-id="${id}"]`);
  if (item) item.remove();
}

// ---- the composer ----

// Sends go one after another, in the order typed; the composer is free at once.
let sending = Promise.resolve();

function submit(event) {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  const sendAt = $("send-at").value;
  const target = { editing: state.editing, to: state.pendingDm, room: state.current };
  state.editing = null;
  $("text").value = "";
  sending = sending.then(() => send(text, sendAt, target));
}

async function send(text, sendAt, target) {
  try {
    if (target.editing !== null) {
      await editMessage(target.editing, text);
    } else {
      const body = { text };
      if (target.to) body.to = target.to;
      else body.room = target.room;
      if (sendAt) body.send_at = new Date(sendAt).getTime() / 1000;
      const answer = await call("POST", "/send", body, { headers: { "Idempotency-Key": idempotencyKey() } });
      if (answer.scheduled) {
        state.scheduled.set(answer.scheduled.id, answer.scheduled);
        notice(`Scheduled for ${new Date(answer.scheduled.send_at * 1000).toLocaleString()}.`);
        $("send-at").value = "";
        if (state.panel === "scheduled") renderPanel();
      } else if (answer.message) {
        if (target.to && state.pendingDm === target.to) {
          state.pendingDm = null;
          state.current = answer.message.room;
          sessionStorage.setItem("chat.room", state.current);
          state.loaded.add(state.current);
          await refreshRooms();
          renderHead();
          renderMessages();
        }
        addMessage(answer.message);
      }
    }
  } catch (error) {
    notice(describe(error));
    if (!$("text").value) $("text").value = text; // not sent: back for another try
  }
}

async function editMessage(id, text) {
  const answer = await call("PATCH", `/messages/${id}`, { text });
  if (answer && answer.message) showEdited(answer.message);
  notice(`Edited #${id}.`);
}

// The composer holds the message's text; Enter saves it with PATCH, Escape cancels.
function startEditing(message) {
  state.editing = message.id;
  $("text").value = message.text;
  notice(`Editing #${message.id} (Enter saves, Escape cancels).`);
  $("text").focus();
}

function onComposerKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("composer").requestSubmit();
  } else if (event.key === "ArrowUp" && !$("text").value && state.current) {
    const own = [...roomMessages(state.current).values()].filter((m) => m.author === state.me && !m.deleted && !m.file);
    const last = own.sort((a, b) => b.id - a.id)[0];
    if (!last) return;
    event.preventDefault();
    startEditing(last);
  } else if (event.key === "Escape" && state.editing !== null) {
    state.editing = null;
    $("text").value = "";
    notice("");
  } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    const ids = [...state.rooms.values()].sort(roomOrder).map((room) => room.id);
    const at = ids.indexOf(state.current);
    const next = ids[(at + (event.key === "ArrowDown" ? 1 : ids.length - 1)) % ids.length];
    if (next) openRoom(next);
  }
}

async function pickFile() {
  const input = $("file");
  const file = input.files[0];
  input.value = "";
  if (!file) return;
  if (file.size > MAX_FILE_BYTES) {
    notice(`${file.name} is ${file.size} bytes, over the server's limit of ${MAX_FILE_BYTES}: not sent.`);
    return;
  }
  const target = state.pendingDm ? `to=${encode(state.pendingDm)}` : `room=${encode(state.current)}`;
  const progress = $("upload-progress");
  progress.value = 0;
  progress.hidden = false;
  try {
    const answer = await upload(`/files?${target}&name=${encode(file.name)}`, file, (done) => { progress.value = done; });
    notice(`Uploaded ${file.name}.`);
    if (answer && answer.message) {
      if (state.pendingDm) await refreshRooms();
      addMessage(answer.message);
    }
  } catch (error) {
    notice(describe(error));
  } finally {
    progress.hidden = true;
  }
}

// ---- panels: scheduled messages, join links, requests ----

function closePanel() {
  state.panel = null;
  $("panel").hidden = true;
  clear($("panel"));
}

function togglePanel(name) {
  if (state.panel === name) return closePanel();
  state.panel = name;
  if (name === "sessions") state.sessions = null;
  if (name === "blocked") state.blocked = null;
  renderPanel();
  if (name === "requests") loadRequests(state.current);
  if (name === "sessions") loadSessions();
  if (name === "blocked") loadBlocked();
}

function renderPanel() {
  const panel = $("panel");
  clear(panel);
  panel.hidden = state.panel === null;
  if (state.panel === "scheduled") {
    renderScheduled(panel, [...state.scheduled.values()], cancelScheduled);
  } else if (state.panel === "links") {
    renderLinks(panel, state.links.filter((link) => link.room === state.current), revokeLink);
  } else if (state.panel === "requests") {
    renderRequests(panel, state.requests.get(state.current) || [], decide);
  } else if (state.panel === "sessions") {
    renderSessions(panel, state.sessions, endSession);
  } else if (state.panel === "blocked") {
    renderBlocked(panel, state.blocked, unblock, async (name) => { await block(name); await loadBlocked(); });
  } else if (state.panel === "search" && state.search) {
    renderSearch(panel, state.search, roomLabel, (message) => openRoom(message.room, message.id), searchMore);
  }
}

function roomLabel(id) {
  const room = state.rooms.get(id);
  if (!room) return id;
  return room.kind === "direct" ? `@${room.name}` : `#${room.name}`;
}

// ---- sessions and blocked users ----

async function loadSessions() {
  try {
    state.sessions = (await call("GET", "/sessions")).sessions;
  } catch (error) {
    notice(describe(error));
  }
  if (state.panel === "sessions") renderPanel();
}

// Ending another session signs that browser out (its stream ends, then 401);
// ending this tab's own signs this tab out here and now.
async function endSession(item) {
  const question = item.current ? "End this tab's session and sign out?" : `End session #${item.id}? Wherever it is used is signed out.`;
  if (!(await confirmed(question))) return;
  try {
    await call("DELETE", `/sessions/${item.id}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) { notice(describe(error)); return; }
  }
  if (item.current) { ended("You ended this session."); return; }
  notice(`Ended session #${item.id}.`);
  await loadSessions();
}

async function loadBlocked() {
  try {
    state.blocked = (await call("GET", "/blocked")).blocked;
  } catch (error) {
    notice(describe(error));
  }
  if (state.panel === "blocked") renderPanel();
}

async function unblock(name) {
  try {
    await call("DELETE", `/users/${encode(name)}/block`);
    notice(`Unblocked ${name}.`);
  } catch (error) {
    notice(describe(error));
  }
  await loadBlocked();
}

// ---- search ----

async function search(q) {
  state.search = { q, messages: [], next: null, loading: true, error: null };
  state.panel = "search";
  renderPanel();
  await searchPage(state.search);
}

function searchMore() {
  if (state.search && state.search.next !== null && !state.search.loading) {
    state.search.loading = true;
    renderPanel();
    searchPage(state.search);
  }
}

async function searchPage(current) {
  const query = new URLSearchParams({ q: current.q, limit: "50" });
  if (current.next !== null) query.set("before", String(current.next));
  try {
    const page = await call("GET", `/search?${query}`);
    current.messages.push(...page.messages);
    current.next = page.next_before;
  } catch (error) {
    current.error = describe(error);
  }
  current.loading = false;
  if (state.search === current && state.panel === "search") renderPanel();
}

async function loadScheduled() {
  try {
    const answer = await call("GET", "/scheduled");
    for (const item of answer.scheduled) state.scheduled.set(item.id, item);
  } catch (error) {
    notice(describe(error));
  }
}

async function cancelScheduled(id) {
  try {
    await call("DELETE", `/scheduled/${id}`);
    state.scheduled.delete(id);
    notice(`Cancelled scheduled message #${id}.`);
  } catch (error) {
    notice(describe(error));
  }
  renderPanel();
}

async function makeLink() {
  try {
    const answer = await call("POST", `/rooms/${encode(state.current)}/links`, {});
    state.links.push({ room: answer.room, token: answer.token });
    state.panel = "links";
    renderPanel();
  } catch (error) {
    notice(describe(error));
  }
}

async function revokeLink(link) {
  try {
    await call("DELETE", `/rooms/${encode(link.room)}/links/${encode(link.token)}`);
    state.links = state.links.filter((other) => other.token !== link.token);
    notice("Link revoked.");
  } catch (error) {
    notice(describe(error));
  }
  renderPanel();
}

async function loadRequests(room) {
  try {
    const answer = await call("GET", `/rooms/${encode(room)}/requests`);
    state.requests.set(room, answer.requests);
    renderHead();
    if (state.panel === "requests" && state.current === room) renderPanel();
  } catch (error) {
    notice(describe(error));
  }
}

async function decide(request, approve) {
  try {
    await call("POST", `/rooms/${encode(request.room)}/requests/${encode(request.user)}`, { approve });
    notice(`${approve ? "Approved" : "Rejected"} ${request.user}.`);
  } catch (error) {
    notice(describe(error));
  }
  await loadRequests(request.room);
  if (approve) await refreshRooms().then(renderHead).catch(() => {});
}

async function leave() {
  const room = state.rooms.get(state.current);
  if (!room) return;
  try {
    await call("POST", `/rooms/${encode(room.id)}/leave`, {});
    state.rooms.delete(room.id);
    notice(`You left ${room.name}.`);
    await openRoom("general");
  } catch (error) {
    notice(describe(error));
  }
}

async function block(name) {
  try {
    await call("POST", `/users/${encode(name)}/block`);
    notice(`Blocked ${name}: they can no longer message you directly or invite you.`);
  } catch (error) {
    notice(describe(error));
  }
}

async function invite() {
  const name = await ask("Invite (user name):");
  if (!name) return;
  try {
    const answer = await call("POST", `/rooms/${encode(state.current)}/members`, { name });
    addRoom(answer.room);
    renderHead();
    notice(`${name} is a member.`);
  } catch (error) {
    notice(describe(error));
  }
}

function tokenOf(text) {
  const match = /(?:#join=|\/join\/)?([0-9A-Za-z_-]{16,128})\s*$/.exec(text.trim());
  return match ? match[1] : null;
}

async function join(text) {
  const token = tokenOf(text);
  if (!token) return notice("That is not a join link.");
  try {
    const answer = await call("POST", `/join/${encode(token)}`, {});
    notice(answer.request.status === "member" ? "You are a member already." : "Asked to join; the owner decides.");
  } catch (error) {
    notice(describe(error));
  }
}

function joinFromFragment() {
  const match = /^#join=(.+)$/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname); // the token leaves the address bar
  join(match[1]);
}

// ---- events ----

function handle(event) {
  switch (event.type) {
    case "message.sent": return addMessage(event.message);
    case "message.commented": return onComment(event.comment);
    case "message.edited":
    case "message.deleted": return onEdited(event);
    case "room.created": return addRoom(event.room);
    case "room.member_joined": return onJoined(event);
    case "room.member_left": return onLeft(event);
    case "room.join_requested": return onRequested(event.request);
    case "room.join_decided": return onDecided(event.request);
    case "message.scheduled": state.scheduled.set(event.scheduled.id, event.scheduled); return state.panel === "scheduled" && renderPanel();
    case "message.cancelled": state.scheduled.delete(event.scheduled); return state.panel === "scheduled" && renderPanel();
    case "message.schedule_failed":
      state.scheduled.delete(event.scheduled);
      return notice(`Scheduled message #${event.scheduled} was not sent (${event.reason}).`);
    case "user.blocked":
    case "user.unblocked":
      if (state.panel === "blocked") loadBlocked();
      return notice(`You ${event.type === "user.blocked" ? "blocked" : "unblocked"} ${event.user}.`);
    case "user.banned": return notice(`You are banned until ${new Date(event.until * 1000).toLocaleString()}.`);
    default: return undefined; // cursor.moved and types this client does not know
  }
}

function onJoined(event) {
  const room = state.rooms.get(event.room);
  if (!room) { refreshRooms().catch(() => {}); return; }
  if (!room.members.includes(event.user)) room.members = [...room.members, event.user].sort();
  if (event.room === state.current) renderHead();
}

function onLeft(event) {
  if (event.user === state.me) {
    state.rooms.delete(event.room);
    if (state.current === event.room) openRoom("general");
    renderRooms();
    return;
  }
  const room = state.rooms.get(event.room);
  if (room) room.members = room.members.filter((member) => member !== event.user);
  if (event.room === state.current) renderHead();
}

function onRequested(request) {
  if (request.user === state.me) return;
  const room = state.rooms.get(request.room);
  notice(`${request.user} asks to join ${room ? room.name : request.room}.`);
  loadRequests(request.room);
}

function onDecided(request) {
  if (request.user === state.me) {
    notice(`Your request to join ${request.room} was ${request.status}.`);
    if (request.status === "approved") refreshRooms().catch(() => {});
  } else if (state.rooms.has(request.room)) {
    loadRequests(request.room);
  }
}

// ---- wiring ----

function notice(text) {
  $("notice").textContent = text;
}

function describe(error) {
  if (error instanceof ApiError) {
    if (error.status === 401 && session.token) setTimeout(ended, 0);
    return error.message;
  }
  return `Cannot reach the server (${error.message}).`;
}

function onSubmit(id, handler) {
  $(id).addEventListener("submit", (event) => { event.preventDefault(); handler(event); });
}

function wireUi() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("composer").addEventListener("submit", submit);
  $("text").addEventListener("keydown", onComposerKey);
  $("file").addEventListener("change", pickFile);
  $("show-scheduled").addEventListener("click", () => togglePanel("scheduled"));
  $("invite").addEventListener("click", invite);
  $("leave").addEventListener("click", leave);
  $("make-link").addEventListener("click", makeLink);
  $("show-requests").addEventListener("click", () => togglePanel("requests"));
  $("show-sessions").addEventListener("click", () => togglePanel("sessions"));
  $("show-blocked").addEventListener("click", () => togglePanel("blocked"));
  onSubmit("search", () => {
    const q = $("search-q").value.trim();
    if (q) search(q);
  });
  $("search-q").addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = document.querySelector("#panel button.result");
      if (first) { event.preventDefault(); first.focus(); }
    } else if (event.key === "Escape" && state.panel === "search") {
      closePanel();
    }
  });
  onSubmit("new-room", async () => {
    const name = $("new-room-name").value.trim();
    const members = $("new-room-members").value.split(",").map((m) => m.trim()).filter(Boolean);
    try {
      const answer = await call("POST", "/rooms", { name, members });
      addRoom(answer.room);
      $("new-room-name").value = "";
      $("new-room-members").value = "";
      await openRoom(answer.room.id);
    } catch (error) {
      notice(describe(error));
    }
  });
  onSubmit("new-dm", () => {
    const name = $("new-dm-name").value.trim();
    $("new-dm-name").value = "";
    if (name) openDm(name);
  });
  onSubmit("join", () => {
    const text = $("join-token").value;
    $("join-token").value = "";
    join(text);
  });
  if (channel) {
    channel.addEventListener("message", (event) => {
      const data = event.data || {};
      if (data.user === state.me && data.type === "read") applyRead(data.room, Number(data.upto) || 0);
    });
  }
  $("people-box").addEventListener("toggle", () => { if ($("people-box").open) refreshPeople(); });
  setInterval(() => {
    if (document.visibilityState === "visible" && state.feed) refreshPeople();
  }, PEOPLE_EVERY_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.current) markRead(state.current);
  });
  window.addEventListener("online", () => { if (state.feed) state.feed.kick(); });
}

boot();
