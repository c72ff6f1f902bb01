// The chat page: speaks protocol v1 (docs/protocol.md) to the server over Socket.IO.
import { io } from "../vendor/socket.io/socket.io.esm.min.js";
import {
  explain,
  fullTime,
  linkify,
  newClientId,
  number,
  roomName,
  seconds,
  serverLength,
  serverTrim,
  shortTime,
} from "./text.js";
import { TokenBucket } from "./budget.js";
import { Directory } from "./directory.js";

const GENERAL = "general";
const ACK_TIMEOUT_MS = 10_000;
const TYPING_REFRESH_MS = 2_000; // protocol: `typing: true` at most every 2 s
const TYPING_IDLE_MS = 3_000;
const TYPING_STALE_MS = 5_000; // protocol: an indicator is stale after about 5 s
const GROUP_GAP_MS = 5 * 60_000;
const ROOMS_PAGE = 50;
// The first page of `rooms` is fetched again at most this often, and only while the page is
// visible (online counts of rooms we are not in have no event). window.chatRoomsRefreshMs: tests.
const ROOMS_REFRESH_MS = Number(window.chatRoomsRefreshMs) || 60_000;
const RETRY_MS = 3_000;
const CROWDED_RETRY_MS = 60_000; // a tab refused as one too many tries again this much later
const PINNED_PX = 48;
const NEAR_TOP_PX = 150;
const HISTORY_PAGE = 50;
const CATCH_UP_PAGES = 20;
const OFFLINE_AFTER_ATTEMPTS = 4;
const TEXT_LIMIT = 4000; // protocol: `too_large` over 4000 characters, counted as "Lengths" says
const COUNT_FROM = 3500; // the character count shows from here on

const $ = (id) => document.getElementById(id);
const layout = document.querySelector(".layout");
const me = layout.dataset.username;
const scroller = $("scroller");
const composer = $("text");

// ---- storage: read marks and joined rooms per user, unsent messages per tab ----------------

function storageKey(what) {
  return `chat:${me.toLowerCase()}:${what}`;
}

function load(store, what, fallback) {
  try {
    return JSON.parse(store.getItem(storageKey(what))) ?? fallback;
  } catch {
    return fallback;
  }
}

function save(store, what, value) {
  try {
    store.setItem(storageKey(what), JSON.stringify(value));
  } catch {
    // Private windows may refuse storage: the page works, it just forgets on reload.
  }
}

const readMarks = load(localStorage, "read", {});
const blocked = new Set(load(localStorage, "blocked", [])); // whom this user blocked (labels only)

// ---- state ---------------------------------------------------------------------------------

// Private rooms have reserved prefixes (protocol: "Private conversations").
function kindOf(name) {
  if (name.startsWith("dm:")) return "dm";
  if (name.startsWith("pair:")) return "pair";
  return "public";
}

class Room {
  constructor(name) {
    this.name = name;
    this.kind = kindOf(name); // "public", "dm" (direct messages) or "pair" (a stranger chat)
    this.with = null; // the other person in a private room
    this.ended = false; // a stranger chat that is over: kept on screen, no longer joined
    this.topic = "";
    this.joined = false; // wanted: joined on every (re)connection
    this.ready = false; // joined on the current connection
    this.list = document.createElement("ol");
    this.list.className = "messages";
    this.byId = new Map(); // message id -> <li>
    this.lastId = 0;
    this.firstId = 0;
    this.hasMore = false;
    this.loadingOlder = false;
    this.members = [];
    this.typing = new Map(); // user -> stale timer
    this.scrollTop = null; // null: pinned to the bottom
    this.newBelow = 0;
    this.draft = "";
  }
}

const rooms = new Map();
const directory = new Directory();
const state = {
  view: "room", // or "stranger": the "Talk to a stranger" view
  active: GENERAL,
  epoch: 0,
  attempts: 0,
  signedOut: false,
  errorSource: null,
  sendPausedUntil: 0,
  retryTimer: 0,
};

function room(name) {
  let found = rooms.get(name);
  if (!found) {
    found = new Room(name);
    rooms.set(name, found);
  }
  return found;
}

function activeRoom() {
  return state.active ? rooms.get(state.active) : undefined;
}

function joinedRooms() {
  return [...rooms.values()].filter((r) => r.joined);
}

function saveJoined() {
  save(
    localStorage,
    "rooms",
    joinedRooms()
      .filter((r) => r.kind === "public")
      .map((r) => r.name),
  );
}

function firstRoom() {
  return joinedRooms().find((r) => r.kind === "public")?.name ?? joinedRooms()[0]?.name ?? null;
}

/** How the page names a room: "#general", or the other person for a private one. */
function place(name) {
  const r = rooms.get(name);
  const kind = r?.kind ?? kindOf(name);
  if (kind === "public") return `#${name}`;
  const other = r?.with ?? directory.find(name)?.with;
  if (kind === "dm") return other ?? "a direct message";
  return other ?? "a stranger";
}

// The stranger chat (protocol: `find_partner`): idle -> waiting -> paired -> ended (or idle).
const stranger = { status: "idle", room: null, partner: null, note: "" };

// ---- the socket ----------------------------------------------------------------------------

// WebSocket first; long-polling when a proxy on the way refuses WebSockets, unless the server
// allows WebSocket only (SOCKETIO_TRANSPORTS: several workers on one port need that).
const allowed = layout.dataset.transports.split(",");
const socket = io({
  transports: ["websocket", "polling"].filter((transport) => allowed.includes(transport)),
  tryAllTransports: true,
  autoConnect: false,
});

function ask(event, payload) {
  if (!socket.connected) return Promise.resolve({ ok: false, error: { code: "offline" } });
  return new Promise((resolve) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
      if (err) return resolve({ ok: false, error: { code: "timeout" } });
      if (!ack || typeof ack !== "object") return resolve({ ok: false, error: { code: "internal" } });
      if (ack.ok === false && ack.error?.code === "unauthorized") signedOut();
      resolve(ack);
    });
  });
}

function setConnection(kind, text) {
  $("connection").dataset.state = kind;
  $("connection-text").textContent = text;
  document.body.dataset.connection = kind;
  renderComposer();
  for (const item of outbox) renderPendingStatus(item);
}

function showConnectionLost() {
  if (state.signedOut) return;
  if (!navigator.onLine || state.attempts >= OFFLINE_AFTER_ATTEMPTS) setConnection("offline", "Offline");
  else setConnection("reconnecting", "Reconnecting…");
}

function signedOut() {
  if (state.signedOut) return;
  state.signedOut = true;
  socket.disconnect();
  setConnection("offline", "Signed out");
  const link = document.createElement("a");
  link.href = layout.dataset.loginUrl;
  link.textContent = "Sign in again";
  showError("Your session has ended. ", "session", link);
}

socket.on("connect", async () => {
  state.attempts = 0;
  setConnection("connected", "Connected");
  clearError("crowded");
  const epoch = ++state.epoch;
  await Promise.all(joinedRooms().map((r) => joinRoom(r.name)));
  if (epoch !== state.epoch || !socket.connected) return;
  if (state.view === "room" && !activeRoom()?.joined) show(firstRoom());
  // A dropped connection leaves the queue (protocol: `leave_partner`): queue again.
  if (stranger.status === "waiting") askForPartner();
  fetchRooms();
  pump();
});

socket.on("disconnect", (reason) => {
  for (const r of rooms.values()) {
    r.ready = false;
    for (const timer of r.typing.values()) clearTimeout(timer);
    r.typing.clear();
  }
  renderTyping();
  if (reason === "io client disconnect") return;
  showConnectionLost();
  // The server closed this connection on purpose: socket.io does not retry that by itself.
  if (reason === "io server disconnect") setTimeout(() => socket.connect(), RETRY_MS);
});

socket.on("connect_error", (err) => {
  if (err.message === "unauthorized") return signedOut();
  if (err.message === "too_many_connections") return tooManyConnections();
  state.attempts += 1;
  showConnectionLost();
});

// The server refused this tab: the user already has MAX_CONNECTIONS_PER_USER connections
// (protocol "Connecting"). socket.io does not retry a refused connect by itself.
let crowdedRetry = 0;
function tooManyConnections() {
  setConnection("offline", "Too many tabs");
  const again = document.createElement("button");
  again.type = "button";
  again.className = "link";
  again.textContent = "Try again now";
  again.addEventListener("click", () => connectAgain());
  showError(
    "You have too many chat tabs or devices connected at once. Close one; this tab tries again in a minute. ",
    "crowded",
    again,
  );
  clearTimeout(crowdedRetry);
  crowdedRetry = setTimeout(connectAgain, CROWDED_RETRY_MS);
}

function connectAgain() {
  clearTimeout(crowdedRetry);
  if (socket.connected || state.signedOut) return;
  setConnection("reconnecting", "Reconnecting…");
  socket.connect();
}

window.addEventListener("offline", showConnectionLost);
window.addEventListener("online", () => {
  if (socket.connected || state.signedOut) return;
  setConnection("reconnecting", "Reconnecting…");
  // Skip the rest of socket.io's back-off: the network is back now.
  socket.disconnect();
  socket.connect();
});

// ---- rooms: join, catch up, leave, list ----------------------------------------------------

async function joinRoom(name) {
  const r = room(name);
  // Holding messages: ask only for what came after the newest (protocol: join with `since`).
  let since = r.lastId > 0 ? r.lastId : null;
  for (let page = 0; page < CATCH_UP_PAGES; page += 1) {
    const ack = await ask("join", since === null ? { room: name } : { room: name, since });
    if (rooms.get(name) !== r || (r.kind === "pair" && r.ended)) return false; // left meanwhile
    if (!ack.ok) {
      const code = ack.error?.code;
      // A stranger chat whose grace period ran out while this page was away.
      if (r.kind === "pair" && code === "forbidden") {
        if (stranger.room === name) pairEnded("This chat has ended.", "The chat has ended.");
        return false;
      }
      if (["invalid", "forbidden", "not_found"].includes(code)) {
        if (r.kind === "dm") refusedDms.add(name);
        forget(name);
      }
      if (!["offline", "unauthorized"].includes(code)) {
        showError(explain(ack.error, "join", place(name), r.kind), "join");
      }
      if (["timeout", "internal", "rate_limited"].includes(code)) {
        // Never before the time a `rate_limited` names: an early retry counts as flooding.
        const wait = code === "rate_limited" ? Math.max(RETRY_MS, seconds(ack.error.retry_after) * 1000) : RETRY_MS;
        setTimeout(() => socket.connected && r.joined && !r.ready && joinRoom(name), wait);
      }
      return false;
    }
    applyJoin(r, ack, since);
    // A stranger chat that ended while this page was away (protocol: `room.active`).
    if (r.kind === "pair" && ack.room?.active === false && stranger.room === name) {
      pairEnded("This chat has ended.", "The chat has ended.");
    }
    if (since === null || !ack.has_more) break;
    since = r.lastId;
  }
  if (!(name in readMarks)) markRead(r, true);
  saveJoined();
  if (name === state.active) renderRoom();
  renderRooms();
  pump();
  return true;
}

// A `join` (or `dm`) ack: the room's details, who is online, and the messages it carries.
function applyJoin(r, ack, since) {
  r.joined = true;
  r.ready = true;
  r.topic = ack.room?.topic ?? "";
  if (typeof ack.room?.with === "string") r.with = ack.room.with;
  r.members = sortNames(ack.members);
  if (since === null) r.hasMore = ack.has_more;
  addMessages(r, ack.messages, false);
}

function forget(name) {
  const r = rooms.get(name);
  if (!r) return;
  r.joined = false;
  rooms.delete(name);
  for (const item of outbox.filter((i) => i.room === name)) dropPending(item);
  saveJoined();
  if (state.active === name && state.view === "room") show(firstRoom());
  renderRooms();
}

async function enter(name) {
  const r = room(name);
  if (!r.joined) {
    r.joined = true;
    saveJoined();
    show(name);
    if (socket.connected && !(await joinRoom(name))) return;
  } else {
    show(name);
  }
}

async function leave(name) {
  const r = rooms.get(name);
  if (!r) return;
  if (r.ready) {
    const ack = await ask("leave", { room: name });
    if (!ack.ok && !["not_in_room", "offline"].includes(ack.error?.code)) {
      return showError(explain(ack.error, "leave", place(name), r.kind), "leave");
    }
  }
  clearError("leave");
  // Listed under "More rooms" at once (the directory may not have it: a room created here).
  if (r.kind === "public") {
    const online = r.members.filter((member) => member !== me).length;
    directory.remember({ name, topic: r.topic, online, kind: "public" });
  }
  forget(name);
}

const roomsFetch = { at: -Infinity, busy: false, firstAfter: false, soon: 0, retry: 0 };

/** Fetch a page of `rooms`: the first (`after` null) or the one after `after` ("Show more"). */
async function fetchRooms(after = null, retried = false) {
  if (roomsFetch.busy) {
    if (after === null) roomsFetch.firstAfter = true; // fetched when the current one is done
    return;
  }
  roomsFetch.busy = true;
  renderMoreRooms();
  if (after === null) roomsFetch.at = Date.now();
  const ack = await ask("rooms", after === null ? { limit: ROOMS_PAGE } : { after, limit: ROOMS_PAGE });
  roomsFetch.busy = false;
  if (ack.ok) {
    if (after === null) directory.applyFirst(ack);
    else directory.applyMore(ack);
    for (const entry of directory.first) if (kindOf(entry.name) === "dm") adoptDm(entry.name, entry.with);
  } else if (ack.error?.code === "rate_limited" && !retried) {
    // Another tab of this user spent the budget: once more when the server allows, no loop.
    clearTimeout(roomsFetch.retry);
    const wait = seconds(ack.error.retry_after) * 1000;
    roomsFetch.retry = setTimeout(() => socket.connected && fetchRooms(after, true), wait);
  }
  renderRooms();
  if (roomsFetch.firstAfter) {
    roomsFetch.firstAfter = false;
    fetchRooms();
  }
}

// Focus, visibility and opening the list ask for fresh counts, often several at once: one
// `rooms` for a burst, at most every ROOMS_REFRESH_MS, and none while the page is hidden.
function refreshRoomsSoon() {
  if (roomsFetch.soon) return;
  roomsFetch.soon = setTimeout(() => {
    roomsFetch.soon = 0;
    if (document.hidden || !socket.connected || Date.now() - roomsFetch.at < ROOMS_REFRESH_MS) return;
    fetchRooms();
  }, 300);
}
window.addEventListener("focus", refreshRoomsSoon);

function renderMoreRooms() {
  const more = $("more-rooms");
  more.hidden = !directory.next;
  more.disabled = roomsFetch.busy;
}
$("more-rooms").addEventListener("click", () => directory.next && fetchRooms(directory.next));

function unreadCount(r) {
  const mark = readMarks[r.name];
  if (mark === undefined) return 0;
  let unread = 0;
  for (const [id, li] of r.byId) if (id > mark && li.dataset.user !== me) unread += 1;
  return unread;
}

function markRead(r, force = false) {
  if (!force && (document.hidden || r.name !== state.active || !isPinned())) return;
  r.newBelow = 0;
  if (r.name === state.active) $("new-messages").hidden = true;
  if (readMarks[r.name] === r.lastId) return;
  readMarks[r.name] = r.lastId;
  save(localStorage, "read", readMarks);
  renderRooms();
}

function unreadBadge(unread) {
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = unread > 99 ? "99+" : String(unread);
  badge.setAttribute("aria-label", `${unread} unread`);
  return badge;
}

function roomButton(name, joined) {
  const r = rooms.get(name);
  const listed = directory.find(name);
  const online = r?.ready ? r.members.length : listed?.online;
  const unread = joined && name !== state.active ? unreadCount(r) : 0;
  const dm = kindOf(name) === "dm";
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "room-button";
  button.dataset.room = name;
  if (name === state.active) button.setAttribute("aria-current", "page");
  const label = userText("span", "room-label", place(name));
  const meta = document.createElement("span");
  meta.className = "room-meta";
  if (unread > 0) meta.append(unreadBadge(unread));
  if (dm) {
    // Both people's pages sit in their direct-message rooms: 2 online means the other is.
    const other = r?.with;
    const here = r?.ready && other ? r.members.includes(other) : listed?.online > 1;
    if (here) meta.append(element("span", "online", "online"));
    if (other) button.prepend(avatar(other));
  } else if (online !== undefined) {
    meta.append(element("span", "online", `${online} online`));
  }
  button.append(label, meta);
  if (listed?.topic) button.title = listed.topic;
  button.addEventListener("click", () => enter(name));
  li.append(button);
  return li;
}

function renderRooms() {
  const mine = joinedRooms()
    .filter((r) => r.kind === "public")
    .map((r) => r.name)
    .sort();
  const others = directory
    .entries()
    .map((entry) => entry.name)
    .filter((name) => kindOf(name) === "public" && !rooms.get(name)?.joined);
  const dms = joinedRooms()
    .filter((r) => r.kind === "dm")
    .map((r) => r.name)
    .sort((a, b) => place(a).localeCompare(place(b), undefined, { sensitivity: "base" }));
  const focused = document.activeElement?.dataset?.room;
  $("my-rooms").replaceChildren(...mine.map((name) => roomButton(name, true)));
  $("other-rooms").replaceChildren(...others.map((name) => roomButton(name, false)));
  $("other-rooms-heading").hidden = others.length === 0 && !directory.next;
  $("dm-rooms").replaceChildren(...dms.map((name) => roomButton(name, true)));
  $("dm-empty").hidden = dms.length > 0;
  renderMoreRooms();
  renderStrangerEntry();
  // Re-rendering must not throw a keyboard user's focus back to the page's start.
  if (focused) document.querySelector(`.room-button[data-room="${CSS.escape(focused)}"]`)?.focus();
  let total = 0;
  for (const r of joinedRooms()) total += unreadCount(r);
  const elsewhere = total - (activeRoom() ? unreadCount(activeRoom()) : 0);
  $("rooms-unread").hidden = elsewhere === 0;
  $("rooms-unread").textContent = elsewhere > 99 ? "99+" : String(elsewhere);
  $("open-rooms").setAttribute("aria-label", elsewhere ? `Rooms, ${elsewhere} unread` : "Rooms");
  const where = state.view === "stranger" ? "Talk to a stranger" : state.active ? place(state.active) : "Rooms";
  document.title = `${total > 0 ? `(${total}) ` : ""}${where} · Chat`;
}

// ---- messages ------------------------------------------------------------------------------

function isPinned() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < PINNED_PX;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

function hue(name) {
  let hash = 0;
  for (const char of name.toLowerCase()) hash = (hash * 31 + char.codePointAt(0)) % 360;
  return hash;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// User-provided text (names, topics, messages) is isolated from the page's own words: bidi
// controls or right-to-left letters in it cannot reorder what is around it (issue 12).
function userText(tag, className, text) {
  const node = element(tag, className, text);
  node.dir = "auto";
  return node;
}

/** words`${user} joined #${room}`: the page's words as text, each value in its own <bdi>. */
function words(strings, ...values) {
  return strings.flatMap((text, index) => (index < values.length ? [text, { user: values[index] }] : [text]));
}

function nodes(parts) {
  if (typeof parts === "string") return [parts];
  return parts.map((part) => (typeof part === "string" ? part : element("bdi", null, String(part.user))));
}

function plain(parts) {
  return typeof parts === "string" ? parts : parts.map((part) => (typeof part === "string" ? part : part.user)).join("");
}

function avatar(user) {
  const node = element("span", "avatar", [...user][0].toUpperCase());
  node.setAttribute("aria-hidden", "true");
  node.style.setProperty("--hue", hue(user));
  return node;
}

function header(user, date, iso) {
  const meta = element("p", "meta");
  meta.append(userText("span", "author", user));
  if (user === me) meta.append(element("span", "you", "(you)"));
  const time = element("time", null, shortTime(date));
  time.dateTime = iso;
  time.title = fullTime(date);
  meta.append(" ", time);
  return meta;
}

function messageElement(message) {
  const date = new Date(message.ts);
  const li = element("li", message.user === me ? "message mine" : "message");
  li.dataset.id = message.id;
  li.dataset.user = message.user;
  li.dataset.time = date.getTime();
  const body = userText("div", "text");
  linkify(message.text, body);
  li.append(avatar(message.user), header(message.user, date, message.ts), body);
  return li;
}

// Consecutive messages of one author within a few minutes share one header.
function regroup(li) {
  if (!li?.classList.contains("message")) return;
  const prev = li.previousElementSibling;
  const continued =
    prev?.classList.contains("message") &&
    prev.dataset.user === li.dataset.user &&
    Math.abs(Number(li.dataset.time) - Number(prev.dataset.time)) < GROUP_GAP_MS;
  li.classList.toggle("continued", Boolean(continued));
}

// By id, before unsent messages, after any notice that came in since the previous message.
function insertInOrder(list, li, id) {
  let ref = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (node.classList.contains("pending") || Number(node.dataset.id || 0) > id) ref = node;
    else break;
  }
  list.insertBefore(li, ref);
}

function addMessages(r, messages, live) {
  const showing = r.name === state.active;
  const pinned = showing && isPinned();
  let fromOthers = 0;
  for (const message of messages) {
    if (r.byId.has(message.id)) continue;
    if (message.user === me && message.client_id) resolvePending(r.name, message.client_id);
    const li = messageElement(message);
    r.byId.set(message.id, li);
    insertInOrder(r.list, li, message.id);
    regroup(li);
    regroup(li.nextElementSibling);
    r.lastId = Math.max(r.lastId, message.id);
    r.firstId = r.firstId ? Math.min(r.firstId, message.id) : message.id;
    if (message.user !== me) {
      fromOthers += 1;
      stopShowingTyping(r, message.user);
      if (live) notify(r, message);
    }
  }
  if (showing) {
    if (pinned) {
      scrollToBottom();
      markRead(r);
    } else if (fromOthers > 0) {
      r.newBelow += fromOthers;
      renderPill(r);
    }
    renderHistoryStatus();
    fillScreen(r);
  }
  renderRooms();
}

/** A line of the page's own between messages; `text`: a string or words`...`. */
function addNotice(r, text) {
  const pinned = r.name === state.active && isPinned();
  const li = element("li", "notice");
  const now = new Date();
  const time = element("time", null, shortTime(now));
  time.dateTime = now.toISOString();
  const span = element("span");
  span.append(...nodes(text));
  li.append(span, " ", time);
  insertInOrder(r.list, li, Number.MAX_SAFE_INTEGER);
  regroup(li.nextElementSibling);
  if (pinned) scrollToBottom();
}

function renderPill(r) {
  const pill = $("new-messages");
  pill.hidden = r.newBelow === 0;
  pill.textContent = `${r.newBelow} new message${r.newBelow === 1 ? "" : "s"} ↓`;
}

function startText(r) {
  if (r.kind === "dm") return `This is the start of your conversation with ${place(r.name)}.`;
  if (r.kind === "pair") return `This is the start of your chat with ${place(r.name)}, a stranger.`;
  return `This is the start of #${r.name}.`;
}

function renderHistoryStatus() {
  const r = activeRoom();
  const status = $("history-status");
  if (!r && state.view === "stranger") {
    status.textContent =
      stranger.status === "waiting"
        ? "You will be matched with the next person who is looking. You can chat in your rooms meanwhile."
        : "Talk one-to-one with someone at random who is also looking. Press Start to begin.";
  } else if (!r) status.textContent = "You are not in any room. Pick one from the list or create one.";
  else if (r.loadingOlder) status.textContent = "Loading older messages…";
  else if (!r.ready && !r.ended && r.byId.size === 0) status.textContent = "Loading messages…";
  else if (r.hasMore) status.textContent = "Scroll up for older messages";
  else if (r.byId.size === 0 && !r.ended) status.textContent = `${startText(r)} Say hello!`;
  else status.textContent = startText(r);
}

async function loadOlder(r) {
  if (!r.hasMore || r.loadingOlder || !r.firstId || !socket.connected) return;
  r.loadingOlder = true;
  if (r.name === state.active) renderHistoryStatus();
  const ack = await ask("history", { room: r.name, before: r.firstId, limit: HISTORY_PAGE });
  r.loadingOlder = false;
  if (!ack.ok) {
    if (r.name === state.active) renderHistoryStatus();
    return showError(explain(ack.error, "history", place(r.name), r.kind), "history");
  }
  r.hasMore = ack.has_more;
  const showing = r.name === state.active;
  const height = scroller.scrollHeight;
  const top = scroller.scrollTop;
  const batch = document.createDocumentFragment();
  for (const message of ack.messages) {
    if (r.byId.has(message.id)) continue;
    const li = messageElement(message);
    r.byId.set(message.id, li);
    batch.append(li);
    r.firstId = Math.min(r.firstId, message.id);
  }
  const oldFirst = r.list.firstElementChild;
  r.list.insertBefore(batch, oldFirst);
  for (const li of r.list.children) {
    regroup(li);
    if (li === oldFirst) break;
  }
  if (showing) {
    // Keep the message the reader was looking at where it was.
    scroller.scrollTop = top + (scroller.scrollHeight - height);
    renderHistoryStatus();
    fillScreen(r);
  }
}

// A short page has no scroll bar to pull older messages with: fetch until there is one.
function fillScreen(r) {
  if (r.hasMore && scroller.scrollHeight <= scroller.clientHeight + NEAR_TOP_PX) loadOlder(r);
}

scroller.addEventListener(
  "scroll",
  () => {
    const r = activeRoom();
    if (!r) return;
    if (isPinned()) markRead(r);
    if (scroller.scrollTop < NEAR_TOP_PX) loadOlder(r);
  },
  { passive: true },
);

$("new-messages").addEventListener("click", () => {
  scrollToBottom();
  const r = activeRoom();
  if (r) markRead(r);
  composer.focus();
});

// ---- notifications in a hidden tab ---------------------------------------------------------

function notify(r, message) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const title = { public: `${message.user} in #${r.name}`, dm: message.user, pair: `${message.user} (stranger)` };
  const note = new Notification(title[r.kind], {
    body: message.text.length > 200 ? `${message.text.slice(0, 200)}…` : message.text,
    tag: `chat-${r.name}`,
  });
  note.addEventListener("click", () => {
    window.focus();
    if (rooms.get(r.name)?.joined) show(r.name);
    note.close();
  });
}

function renderNotifyButton() {
  const button = $("notify");
  button.hidden = !("Notification" in window) || Notification.permission !== "default";
}
$("notify").addEventListener("click", async () => {
  await Notification.requestPermission();
  renderNotifyButton();
});

document.addEventListener("visibilitychange", () => {
  const r = activeRoom();
  if (!document.hidden && r) markRead(r);
  if (!document.hidden) refreshRoomsSoon();
  renderRooms();
});

// ---- members, presence, typing -------------------------------------------------------------

function sortNames(names) {
  return [...names].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
}

function dmButton(name) {
  const button = element("button", "secondary dm-button", "DM");
  button.type = "button";
  button.dataset.user = name;
  button.setAttribute("aria-label", `DM ${name}`);
  button.title = `Send ${name} a direct message`;
  button.addEventListener("click", () => openDm(name));
  return button;
}

function renderMembers() {
  const r = activeRoom();
  const members = r && !r.ended ? r.members : [];
  const focused = document.activeElement?.classList.contains("dm-button") && document.activeElement.dataset.user;
  $("member-list").replaceChildren(
    ...members.map((name) => {
      const li = element("li", "member");
      li.append(avatar(name), userText("span", "member-name", name));
      if (name === me) li.append(element("span", "you", "(you)"));
      else if (!(r.kind === "dm" && name === r.with)) li.append(dmButton(name));
      return li;
    }),
  );
  if (focused) document.querySelector(`.dm-button[data-user="${CSS.escape(focused)}"]`)?.focus();
  $("online-count").textContent = String(members.length);
  $("members-heading").textContent = `Online · ${members.length}`;
}

socket.on("presence", ({ room: name, user, status }) => {
  const r = rooms.get(name);
  if (!r?.joined) return;
  const present = r.members.includes(user);
  // In a private room, presence is the other person's page opening or closing: no notice.
  const noticed = r.kind === "public";
  if (status === "joined" && !present) {
    r.members = sortNames([...r.members, user]);
    if (noticed) addNotice(r, words`${user} joined #${name}`);
  } else if (status === "left" && present) {
    r.members = r.members.filter((member) => member !== user);
    stopShowingTyping(r, user);
    if (noticed) addNotice(r, words`${user} left #${name}`);
  }
  if (name === state.active) renderMembers();
  if (name === stranger.room) renderStranger();
  renderRooms();
});

socket.on("message", (message) => {
  const r = rooms.get(message.room);
  if (r?.joined) addMessages(r, [message], true);
});

socket.on("typing", ({ room: name, user, typing }) => {
  const r = rooms.get(name);
  if (!r?.joined || user === me) return;
  clearTimeout(r.typing.get(user));
  if (typing) r.typing.set(user, setTimeout(() => stopShowingTyping(r, user), TYPING_STALE_MS));
  else r.typing.delete(user);
  if (name === state.active) renderTyping();
});

function stopShowingTyping(r, user) {
  if (!r.typing.has(user)) return;
  clearTimeout(r.typing.get(user));
  r.typing.delete(user);
  if (r.name === state.active) renderTyping();
}

function renderTyping() {
  const names = activeRoom() ? sortNames(activeRoom().typing.keys()) : [];
  let text = "";
  if (names.length === 1) text = words`${names[0]} is typing…`;
  else if (names.length === 2) text = words`${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = words`${names[0]}, ${names[1]} and ${names.length - 2} more are typing…`;
  $("typing").replaceChildren(...nodes(text));
}

// Typing signals stay inside the server's typing budget (TYPING_RATE, TYPING_BURST), with a
// margin: the network can bunch signals up on the way, and a refused one is a flood strike.
const typingBudget = new TokenBucket(
  0.8 * (Number(layout.dataset.typingRate) || 5),
  Math.max(1, Math.floor(0.8 * (Number(layout.dataset.typingBurst) || 10))),
);
let typingActive = false; // a key was pressed in the last TYPING_IDLE_MS
let typingIn = null; // the room a `true` went to, with no `false` since
let lastTrueAt = -Infinity;
let typingIdle = 0;
let typingLater = 0; // a `true` held back by the 2 s rule or the budget, sent when allowed
let pendingFalse = null; // a `false` waiting for a token
let pendingFalseTimer = 0;

function sendTyping(name, typing) {
  if (!socket.connected || !rooms.get(name)?.ready || !typingBudget.take()) return false;
  socket.emit("typing", { room: name, typing }, (ack) => {
    // Refused after all (another tab of this user spends the same budget): wait as told.
    if (ack?.ok === false && ack.error?.code === "rate_limited") {
      typingBudget.pause(seconds(ack.error.retry_after) * 1000);
    }
  });
  return true;
}

// Without a token, a `false` waits for one; a newer `true` to that room replaces it. (Others'
// pages also clear an indicator on the typist's message, and after 5 s without a refresh.)
function sendFalse(name) {
  clearTimeout(pendingFalseTimer);
  pendingFalse = null;
  if (sendTyping(name, false) || !socket.connected || !rooms.get(name)?.ready) return;
  pendingFalse = name;
  pendingFalseTimer = setTimeout(() => pendingFalse === name && sendFalse(name), typingBudget.wait() + 10);
}

function stopTyping() {
  clearTimeout(typingIdle);
  clearTimeout(typingLater);
  typingLater = 0;
  typingActive = false;
  if (typingIn) sendFalse(typingIn);
  typingIn = null;
}

// Protocol: `true` at most every 2 s while keys are pressed, `false` only after a `true`.
function signalTyping() {
  const r = activeRoom();
  if (!typingActive || !r || typingLater) return;
  const wait = Math.max(lastTrueAt + TYPING_REFRESH_MS - Date.now(), typingBudget.wait());
  if (wait > 0) {
    typingLater = setTimeout(() => {
      typingLater = 0;
      signalTyping();
    }, wait);
    return;
  }
  if (pendingFalse === r.name) {
    clearTimeout(pendingFalseTimer);
    pendingFalse = null;
  }
  if (sendTyping(r.name, true)) {
    typingIn = r.name;
    lastTrueAt = Date.now();
  }
}

function typed() {
  const r = activeRoom();
  if (!r || !composer.value.trim()) return stopTyping();
  if (typingIn && typingIn !== r.name) stopTyping();
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
  typingActive = true;
  signalTyping();
}

// ---- sending: an outbox that survives reconnects (and reloads, per tab) --------------------

// Each message keeps its client_id until acknowledged: a retry of a message the server already
// stored is answered with the original (protocol: `message`), so nothing is posted twice.
const outbox = load(sessionStorage, "outbox", []).map((item) => ({ ...item, state: "queued" }));
let pumping = false;

function saveOutbox() {
  save(
    sessionStorage,
    "outbox",
    outbox.map(({ client_id, room: name, text, createdAt }) => ({ client_id, room: name, text, createdAt })),
  );
}

function pendingStatus(item) {
  if (item.state === "failed") return `Not sent: ${item.reason}`;
  if (item.state === "sending" || socket.connected) return "Sending…";
  return "Waiting for the connection…";
}

// Sending the same text again cannot fix these: the text has to change (Edit).
const NEEDS_EDIT = ["too_large", "invalid"];

function renderPendingStatus(item) {
  if (!item.li) return;
  const showing = item.room === state.active && item.li.isConnected;
  const pinned = showing && isPinned();
  const failed = item.state === "failed";
  item.li.classList.toggle("failed", failed);
  item.li.querySelector(".status").textContent = pendingStatus(item);
  item.li.querySelector(".actions").hidden = !failed;
  const edit = NEEDS_EDIT.includes(item.code);
  item.li.querySelector(".retry").hidden = edit;
  item.li.querySelector(".edit").hidden = !edit;
  // The failure's buttons just grew below the message: keep them on screen, not under the box.
  if (failed && pinned) scrollToBottom();
}

function pendingElement(item) {
  const date = new Date(item.createdAt);
  const li = element("li", "message mine pending");
  li.dataset.user = me;
  li.dataset.time = item.createdAt;
  const meta = header(me, date, date.toISOString());
  const body = userText("div", "text");
  linkify(item.text, body);
  const actions = element("p", "actions");
  const retry = element("button", "secondary retry", "Retry");
  retry.type = "button";
  retry.addEventListener("click", () => {
    item.state = "queued";
    item.code = null;
    renderPendingStatus(item);
    pump();
  });
  const edit = element("button", "secondary edit", "Edit");
  edit.type = "button";
  edit.title = "Put the text back into the message box";
  edit.addEventListener("click", () => editPending(item));
  const discard = element("button", "link", "Discard");
  discard.type = "button";
  discard.addEventListener("click", () => dropPending(item));
  actions.append(retry, edit, " ", discard);
  li.append(avatar(me), meta, body, element("p", "status"), actions);
  return li;
}

function showPending(item) {
  const r = room(item.room);
  item.li = pendingElement(item);
  r.list.append(item.li);
  regroup(item.li);
  renderPendingStatus(item);
  if (r.name === state.active) scrollToBottom();
}

function dropPending(item) {
  const index = outbox.indexOf(item);
  if (index >= 0) outbox.splice(index, 1);
  const next = item.li?.nextElementSibling;
  item.li?.remove();
  regroup(next);
  saveOutbox();
}

// Edit: the failed text goes back into the message box (before anything typed since), and
// the failed entry goes away.
function editPending(item) {
  dropPending(item);
  if (state.active !== item.room) show(item.room);
  const typedSince = composer.value.trim() ? `\n${composer.value}` : "";
  composer.value = item.text + typedSince;
  const r = activeRoom();
  if (r) r.draft = composer.value;
  autosize();
  renderCount();
  composer.focus();
  composer.setSelectionRange(item.text.length, item.text.length);
}

function resolvePending(name, clientId) {
  const item = outbox.find((i) => i.room === name && i.client_id === clientId);
  if (item) dropPending(item);
}

function queueMessage(name, text) {
  const item = { client_id: newClientId(), room: name, text, createdAt: Date.now(), state: "queued" };
  outbox.push(item);
  saveOutbox();
  showPending(item);
  pump();
}

function retryLater(ms) {
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(pump, ms);
}

// One message at a time, in the order typed: the server may handle concurrent events in any order.
async function pump() {
  if (pumping) return;
  pumping = true;
  try {
    while (socket.connected && Date.now() >= state.sendPausedUntil) {
      const item = outbox.find((i) => i.state === "queued" && rooms.get(i.room)?.ready);
      if (!item) break;
      item.state = "sending";
      renderPendingStatus(item);
      const ack = await ask("message", { room: item.room, text: item.text, client_id: item.client_id });
      if (ack.ok) {
        clearError("send");
        addMessages(room(item.room), [ack.message], false);
        continue;
      }
      // An ack lost to a dropped connection is retried after the reconnect, not reported.
      const code = socket.connected ? ack.error?.code : "offline";
      if (["offline", "timeout", "internal", "rate_limited"].includes(code)) {
        item.state = "queued";
        renderPendingStatus(item);
        if (code === "offline") break;
        const wait = code === "rate_limited" ? seconds(ack.error.retry_after) * 1000 : RETRY_MS;
        state.sendPausedUntil = Date.now() + wait;
        showError(explain(ack.error, "send", place(item.room), kindOf(item.room)), "send");
        retryLater(wait);
        break;
      }
      if (code === "not_in_room") {
        // The server forgot this connection's room (a restart mid-send): join, then resend.
        item.state = "queued";
        rooms.get(item.room).ready = false;
        if (await joinRoom(item.room)) continue;
        break;
      }
      item.state = "failed";
      item.code = code;
      item.reason = explain(ack.error, "send", place(item.room), kindOf(item.room));
      renderPendingStatus(item);
      if (code === "unauthorized") break;
      // The stranger chat ended without this page hearing of it (it was away meanwhile).
      if (code === "forbidden" && item.room === stranger.room && stranger.status === "paired") {
        pairEnded("This chat has ended.", "The chat has ended.");
      }
    }
  } finally {
    pumping = false;
  }
}

window.addEventListener("beforeunload", (event) => {
  if (outbox.some((item) => item.state !== "failed")) event.preventDefault();
});

// ---- the view ------------------------------------------------------------------------------

function renderRoom() {
  const r = activeRoom();
  const strangerView = state.view === "stranger";
  let topic = r?.topic ?? "";
  if (strangerView) topic = "";
  else if (r?.kind === "dm") topic = "Direct message";
  const title = strangerView ? "Talk to a stranger" : r ? element("bdi", null, place(r.name)) : "No room";
  $("room-name").replaceChildren(title);
  $("room-topic").replaceChildren(element("bdi", null, topic));
  $("room-topic").hidden = !topic;
  $("leave").hidden = !r || r.kind !== "public";
  $("stranger").hidden = !strangerView;
  renderBlockButton($("block"), r?.kind === "dm" && !strangerView ? r.with : null);
  let label = "Messages";
  if (r?.kind === "public") label = `Messages in #${r.name}`;
  else if (r?.with) label = `Messages with ${r.with}`;
  scroller.setAttribute("aria-label", label);
  renderStranger();
  renderMembers();
  renderTyping();
  renderHistoryStatus();
  renderComposer();
}

function renderComposer() {
  const r = activeRoom();
  const open = Boolean(r) && !r.ended;
  composer.disabled = !open;
  $("send-form").querySelector("button").disabled = !open;
  if (r?.ended) composer.placeholder = "This chat has ended";
  else if (!r && state.view === "stranger") {
    composer.placeholder = stranger.status === "waiting" ? "Waiting for someone…" : "Press Start to talk to a stranger";
  } else if (!r) composer.placeholder = "Join a room to chat";
  else if (socket.connected) composer.placeholder = `Message ${place(r.name)}`;
  else composer.placeholder = `Message ${place(r.name)} (sent when the connection returns)`;
}

function show(name) {
  if (name && rooms.get(name)?.kind === "pair") return showStranger();
  display(name, "room");
}

function showStranger() {
  display(stranger.room && rooms.has(stranger.room) ? stranger.room : null, "stranger");
}

function display(name, view) {
  const previous = activeRoom();
  if (previous) {
    previous.scrollTop = isPinned() ? null : scroller.scrollTop;
    previous.draft = composer.value;
  }
  if (previous?.name !== name) stopTyping();
  state.view = view;
  state.active = name;
  const r = activeRoom();
  scroller.replaceChildren($("history-status"), ...(r ? [r.list] : []));
  composer.value = r?.draft ?? "";
  autosize();
  renderCount();
  renderRoom();
  renderRooms();
  if (r) {
    if (r.scrollTop === null) scrollToBottom();
    else scroller.scrollTop = r.scrollTop;
    renderPill(r);
    markRead(r);
    fillScreen(r);
  } else {
    $("new-messages").hidden = true;
  }
  closeDrawers();
}

function showError(text, source, extra) {
  state.errorSource = source;
  $("error-text").replaceChildren(text, ...(extra ? [extra] : []));
  $("error").hidden = false;
}

function clearError(source) {
  if (source && state.errorSource !== source) return;
  state.errorSource = null;
  $("error").hidden = true;
}
$("error-close").addEventListener("click", () => clearError());

function autosize() {
  const pinned = isPinned();
  composer.style.height = "auto";
  composer.style.height = `${Math.min(composer.scrollHeight + 2, 160)}px`;
  // A taller box makes the list shorter: keep its newest line (a failed message's buttons) in view.
  if (pinned) scrollToBottom();
}

// Near the limit, a count as the server counts ("3,612 / 4,000"); over it, in the error colour.
function renderCount() {
  const length = serverLength(composer.value);
  const counter = $("char-count");
  counter.hidden = length < COUNT_FROM;
  counter.textContent = `${number(length)} / ${number(TEXT_LIMIT)}`;
  counter.classList.toggle("over", length > TEXT_LIMIT);
  if (length > TEXT_LIMIT) composer.setAttribute("aria-invalid", "true");
  else {
    composer.removeAttribute("aria-invalid");
    clearError("length");
  }
  return length;
}

composer.addEventListener("input", () => {
  autosize();
  renderCount();
  typed();
});
composer.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey) return;
  event.preventDefault();
  $("send-form").requestSubmit();
});
$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const r = activeRoom();
  const text = serverTrim(composer.value);
  if (!r || !text) return;
  // Refused here, in words, with the text kept: the server would refuse it as `too_large`.
  const length = renderCount();
  if (length > TEXT_LIMIT) {
    const over = `${number(length)} characters, the limit is ${number(TEXT_LIMIT)}`;
    return showError(`That message is too long: ${over}. Shorten it to send it.`, "length");
  }
  stopTyping();
  composer.value = "";
  r.draft = "";
  autosize();
  renderCount();
  queueMessage(r.name, text);
  scrollToBottom();
});

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("join-name");
  const name = roomName(input.value);
  const error = $("join-error");
  if (!name) {
    error.textContent = explain({ code: "invalid" }, "join");
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    return;
  }
  error.hidden = true;
  input.removeAttribute("aria-invalid");
  input.value = "";
  enter(name);
  composer.focus();
});

$("leave").addEventListener("click", () => state.active && leave(state.active));
$("block").addEventListener("click", () => toggleBlock(activeRoom()?.with));

// ---- direct messages (protocol: `dm`, `dm_opened`) -----------------------------------------

// A direct-message room of this user: joined on every connection, so its messages and unread
// counts arrive like a room's. One the user did not open here starts with everything unread.
const refusedDms = new Set(); // `join` said no: not asked again on every `rooms` refresh

function adoptDm(name, user) {
  if (refusedDms.has(name)) return;
  const r = room(name);
  if (typeof user === "string") r.with = user;
  if (r.joined) return;
  r.joined = true;
  if (!(name in readMarks)) {
    readMarks[name] = 0;
    save(localStorage, "read", readMarks);
  }
  if (socket.connected) joinRoom(name);
}

async function openDm(user) {
  const ack = await ask("dm", { user });
  if (!ack.ok) return showError(explain(ack.error, "dm", user), "dm");
  clearError("dm");
  const name = ack.room?.name;
  if (typeof name !== "string" || kindOf(name) !== "dm") return;
  const r = room(name);
  r.with = ack.room.with ?? user;
  refusedDms.delete(name);
  if (!r.ready) {
    applyJoin(r, ack, null);
    if (!(name in readMarks)) markRead(r, true);
  }
  show(name);
  composer.focus();
}

socket.on("dm_opened", ({ room: name, user } = {}) => {
  if (typeof name !== "string" || kindOf(name) !== "dm") return;
  // Opened for us again (after an unblock, say): a block may have taken this connection out
  // of the room (protocol: `block`), so join it again; `since` catches up what was missed.
  refusedDms.delete(name);
  const known = rooms.get(name);
  if (known?.ready && socket.connected) {
    known.ready = false;
    joinRoom(name);
  } else adoptDm(name, user);
  renderRooms();
});

// ---- blocking (protocol: `block`, `unblock`) -----------------------------------------------

function renderBlockButton(button, user) {
  button.hidden = !user;
  if (!user) return;
  const isBlocked = blocked.has(user.toLowerCase());
  button.textContent = isBlocked ? "Unblock" : "Block";
  button.setAttribute("aria-label", `${isBlocked ? "Unblock" : "Block"} ${user}`);
  button.title = isBlocked
    ? `Let ${user} message you and be matched with you again`
    : `Stop ${user} from messaging you or being matched with you`;
}

async function toggleBlock(user) {
  if (!user) return;
  const unblocking = blocked.has(user.toLowerCase());
  const pairedWith = stranger.status === "paired" && stranger.partner === user;
  const ack = await ask(unblocking ? "unblock" : "block", { user });
  if (!ack.ok) return showError(explain(ack.error, "block", user), "block");
  clearError("block");
  if (unblocking) blocked.delete(user.toLowerCase());
  else blocked.add(user.toLowerCase());
  save(localStorage, "blocked", [...blocked]);
  for (const r of rooms.values()) {
    if (r.kind !== "dm" || r.with !== user) continue;
    addNotice(
      r,
      unblocking
        ? words`You unblocked ${user}.`
        : words`You blocked ${user}: neither of you can send messages here until you unblock them.`,
    );
  }
  // Blocking your stranger ends the chat (protocol: `block`).
  if (!unblocking && pairedWith) pairEnded(words`You blocked ${user} and left the chat.`, words`You blocked ${user}.`);
  else renderRoom();
}

// ---- talk to a stranger (protocol: `find_partner`, `leave_partner`) ------------------------

function saveStranger() {
  const { status, room: name, partner } = stranger;
  save(sessionStorage, "stranger", status === "waiting" || status === "paired" ? { status, room: name, partner } : null);
}

function setStranger(status, fields = {}) {
  Object.assign(stranger, { status, note: "" }, fields);
  saveStranger();
  if (state.view === "stranger" && state.active !== stranger.room) showStranger();
  else {
    renderRoom();
    renderRooms();
  }
}

// Forget the previous stranger chat: a new one starts on an empty page.
function dropPair() {
  const name = stranger.room;
  if (!name) return;
  const r = rooms.get(name);
  if (r) {
    r.joined = false;
    for (const timer of r.typing.values()) clearTimeout(timer);
    rooms.delete(name);
  }
  for (const item of outbox.filter((i) => i.room === name)) dropPending(item);
  delete readMarks[name];
  save(localStorage, "read", readMarks);
  stranger.room = null;
  stranger.partner = null;
}

function pairWith(name, partner) {
  if (typeof name !== "string" || kindOf(name) !== "pair" || typeof partner !== "string") return;
  if (stranger.status === "paired" && stranger.room === name) return;
  if (stranger.room !== name) dropPair();
  // The server has put this connection in the pair's room already (no `join` needed).
  const r = room(name);
  r.with = partner;
  r.ended = false;
  r.joined = true;
  r.ready = socket.connected;
  r.hasMore = false;
  r.members = sortNames([me, partner]);
  readMarks[name] = 0;
  save(localStorage, "read", readMarks);
  setStranger("paired", { room: name, partner });
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    new Notification(`You are talking to ${partner}`, { tag: "chat-stranger" });
  }
}

// The chat is over: its messages stay on screen, with `note` below them, until Start.
function pairEnded(status, note) {
  const r = rooms.get(stranger.room);
  if (r) {
    r.ended = true;
    r.joined = false;
    r.ready = false;
    for (const timer of r.typing.values()) clearTimeout(timer);
    r.typing.clear();
    addNotice(r, note);
    if (typingIn === r.name) stopTyping();
  }
  setStranger("ended", { room: stranger.room, partner: stranger.partner, note: status });
}

let partnerRetry = 0;
async function askForPartner() {
  clearTimeout(partnerRetry);
  const ack = await ask("find_partner", {});
  if (stranger.status !== "waiting") return; // stopped, or a partner_found came first
  if (ack.ok) {
    clearError("stranger");
    if (ack.status === "paired") pairWith(ack.room, ack.partner);
    return;
  }
  const code = ack.error?.code;
  if (["offline", "unauthorized"].includes(code)) return; // asked again after the reconnect
  showError(explain(ack.error, "find_partner"), "stranger");
  if (["timeout", "internal", "rate_limited"].includes(code)) {
    const wait = code === "rate_limited" ? seconds(ack.error.retry_after) * 1000 : RETRY_MS;
    partnerRetry = setTimeout(() => stranger.status === "waiting" && askForPartner(), wait);
  } else {
    setStranger("idle");
  }
}

// Start, and Next: asking while paired leaves the current partner first (protocol).
function findPartner() {
  if (stranger.status === "waiting") return;
  dropPair();
  setStranger("waiting");
  askForPartner();
}

async function stopStranger() {
  const { status, partner } = stranger;
  clearTimeout(partnerRetry);
  if (status === "paired") pairEnded(words`You left the chat with ${partner}.`, "You left the chat.");
  else if (status === "waiting") setStranger("idle");
  else return;
  const ack = await ask("leave_partner", {});
  if (!ack.ok && !["offline", "unauthorized"].includes(ack.error?.code)) {
    showError(explain(ack.error, "leave_partner"), "stranger");
  }
}

socket.on("partner_found", ({ room: name, partner } = {}) => {
  // Matched just as the user pressed Stop (the two crossed on the way): end it at once.
  if (["idle", "ended"].includes(stranger.status) && stranger.room !== name) {
    ask("leave_partner", {});
    return;
  }
  pairWith(name, partner);
});

socket.on("partner_left", ({ room: name } = {}) => {
  if (name !== stranger.room || stranger.status !== "paired") return;
  pairEnded("Your partner left.", words`${stranger.partner} left the chat.`);
});

function renderStrangerEntry() {
  const entry = $("stranger-open");
  if (state.view === "stranger") entry.setAttribute("aria-current", "page");
  else entry.removeAttribute("aria-current");
  const r = stranger.status === "paired" ? rooms.get(stranger.room) : undefined;
  const unread = r && state.view !== "stranger" ? unreadCount(r) : 0;
  $("stranger-unread").hidden = unread === 0;
  $("stranger-unread").textContent = unread > 99 ? "99+" : String(unread);
  $("stranger-unread").setAttribute("aria-label", `${unread} unread`);
  const hint = { idle: "", waiting: "waiting…", paired: words`with ${stranger.partner}`, ended: "ended" };
  $("stranger-hint").replaceChildren(...nodes(hint[stranger.status]));
}

function renderStranger() {
  const { status, partner, note } = stranger;
  // The partner's page lost its connection: the pair waits for them (protocol: grace period).
  const r = rooms.get(stranger.room);
  const away = status === "paired" && r?.ready && !r.members.includes(partner);
  const text = {
    idle: note || "Meet someone new: press Start to be matched with a random person.",
    waiting: "Waiting for someone…",
    paired: away
      ? words`You are talking to ${partner} (connection lost, waiting for ${partner} to come back…)`
      : words`You are talking to ${partner}`,
    ended: note,
  };
  const line = $("stranger-status");
  line.dataset.state = status;
  if (line.textContent !== plain(text[status])) line.replaceChildren(...nodes(text[status]));
  const controls = ["stranger-start", "stranger-next", "stranger-stop", "stranger-block"];
  const hadFocus = controls.includes(document.activeElement?.id) ? document.activeElement : null;
  $("stranger-start").hidden = status === "waiting" || status === "paired";
  $("stranger-next").hidden = status !== "paired";
  $("stranger-stop").hidden = status !== "waiting" && status !== "paired";
  renderBlockButton($("stranger-block"), status === "paired" ? partner : null);
  // A keyboard user's button went away (Start became Stop): keep them in the same place.
  if (hadFocus?.hidden && state.view === "stranger") {
    controls.map($).find((button) => !button.hidden)?.focus();
  }
}

$("stranger-open").addEventListener("click", () => {
  showStranger();
  const first = ["stranger-start", "stranger-next"].map($).find((button) => !button.hidden);
  if (stranger.status !== "paired") first?.focus();
});
$("stranger-start").addEventListener("click", findPartner);
$("stranger-next").addEventListener("click", findPartner);
$("stranger-stop").addEventListener("click", stopStranger);
$("stranger-block").addEventListener("click", () => toggleBlock(stranger.partner));

// ---- phone drawers -------------------------------------------------------------------------

const drawerButtons = { sidebar: $("open-rooms"), members: $("open-members") };

function openDrawer(id) {
  document.body.dataset.drawer = id;
  $("backdrop").hidden = false;
  drawerButtons[id].setAttribute("aria-expanded", "true");
  if (id === "sidebar") refreshRoomsSoon(); // the directory is on screen: fresh counts
  $(id).querySelector("button, input, a")?.focus();
}

function closeDrawers() {
  const open = document.body.dataset.drawer;
  if (!open) return;
  delete document.body.dataset.drawer;
  $("backdrop").hidden = true;
  drawerButtons[open].setAttribute("aria-expanded", "false");
  if ($(open).contains(document.activeElement)) drawerButtons[open].focus();
}

for (const [id, button] of Object.entries(drawerButtons)) {
  button.addEventListener("click", () =>
    document.body.dataset.drawer === id ? closeDrawers() : openDrawer(id),
  );
}
$("backdrop").addEventListener("click", closeDrawers);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeDrawers();
});

// ---- start ---------------------------------------------------------------------------------

for (const name of new Set([GENERAL, ...load(localStorage, "rooms", [])])) {
  if (roomName(name) === name) room(name).joined = true;
}
// A reload in the middle of a stranger chat: join it again within the grace period.
const saved = load(sessionStorage, "stranger", null);
if (saved?.status === "waiting") stranger.status = "waiting";
if (saved?.status === "paired" && kindOf(String(saved.room)) === "pair" && typeof saved.partner === "string") {
  Object.assign(stranger, { status: "paired", room: saved.room, partner: saved.partner });
  const r = room(saved.room);
  r.with = saved.partner;
  r.joined = true;
}
for (const name of Object.keys(readMarks)) {
  if (kindOf(name) === "pair" && name !== stranger.room) delete readMarks[name];
}
for (const item of [...outbox]) {
  if (kindOf(item.room) === "pair" && item.room !== stranger.room) {
    outbox.splice(outbox.indexOf(item), 1);
    continue;
  }
  room(item.room).joined = true;
  showPending(item);
}
saveOutbox();
renderNotifyButton();
show(GENERAL);
socket.connect();
