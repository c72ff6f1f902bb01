// The message list view: messages in order, notices, older pages on scroll, notifications.
import { cancelReply } from "./actions.js";
import { ask, socket } from "./connection.js";
import { GROUP_GAP_MS, HISTORY_PAGE, NEAR_TOP_PX, PINNED_PX } from "./constants.js";
import { $, composer, element, nodes, scroller } from "./dom.js";
import { fillMessage } from "./entry.js";
import { showError } from "./errors.js";
import { show } from "./layout.js";
import { stopShowingTyping } from "./members.js";
import { resolvePending } from "./outbox.js";
import { refreshRoomsSoon } from "./rooms.js";
import { markRead, renderRooms } from "./sidebar.js";
import { activeRoom, place, rooms, selfIn, state, stranger } from "./state.js";
import { explain, shortTime } from "./text.js";

/** The list is scrolled to (about) its bottom: new messages keep it there. */
export function isPinned() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < PINNED_PX;
}

export function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

function messageElement(r, message) {
  const li = element("li", "message");
  fillMessage(r, li, message);
  return li;
}

/**
 * Show `message`'s state when it is newer (a higher `rev`) than the one `r` holds; a message
 * the page does not hold (older than what it loaded) is left alone. True when it changed.
 */
export function applyState(r, message) {
  const held = r?.messages.get(message?.id);
  const li = r?.byId.get(message?.id);
  if (!held || !li || !(Number(message.rev) > Number(held.rev ?? 0))) return false;
  r.messages.set(message.id, message);
  fillMessage(r, li, message);
  if (message.deleted && r.replyTo?.id === message.id) cancelReply(r);
  return true;
}

// Revisions reach a joined connection in order (protocol "Room revisions"): after a join ack,
// the highest one seen in events is the revision the page holds every change up to.
function noteRev(r, rev) {
  if (Number.isSafeInteger(rev) && rev > r.rev) r.rev = rev;
}

/** Consecutive messages of one author within a few minutes share one header. */
export function regroup(li) {
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

/** Add stored messages to `r` (once each, in id order); `live`: just sent, may notify. */
export function addMessages(r, messages, live) {
  const showing = r.name === state.active;
  const pinned = showing && isPinned();
  let fromOthers = 0;
  for (const message of messages) {
    if (r.byId.has(message.id)) {
      applyState(r, message);
      continue;
    }
    if (message.user === selfIn(r) && message.client_id) resolvePending(r.name, message.client_id);
    const li = messageElement(r, message);
    r.messages.set(message.id, message);
    r.byId.set(message.id, li);
    insertInOrder(r.list, li, message.id);
    regroup(li);
    regroup(li.nextElementSibling);
    r.lastId = Math.max(r.lastId, message.id);
    r.firstId = r.firstId ? Math.min(r.firstId, message.id) : message.id;
    if (message.user !== selfIn(r)) {
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

/** `message`: a message in a room this page joined. */
export function messageReceived(message) {
  const r = rooms.get(message?.room);
  if (!r?.joined) return;
  noteRev(r, message.rev);
  addMessages(r, [message], true);
}

/** `message_updated`: a message's new state after an edit, a delete or a reaction. */
export function messageUpdated(message) {
  const r = rooms.get(message?.room);
  if (!r?.joined) return;
  noteRev(r, message.rev);
  applyState(r, message);
}

/** A line of the page's own between messages; `text`: a string or words`...`. */
export function addNotice(r, text) {
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

/** The "3 new messages ↓" pill of a room scrolled up. */
export function renderPill(r) {
  const pill = $("new-messages");
  pill.hidden = r.newBelow === 0;
  pill.textContent = `${r.newBelow} new message${r.newBelow === 1 ? "" : "s"} ↓`;
}

function startText(r) {
  if (r.kind === "dm") return `This is the start of your conversation with ${place(r.name)}.`;
  if (r.kind === "pair") return `This is the start of your chat with ${place(r.name)}, a stranger.`;
  return `This is the start of #${r.name}.`;
}

/** The line above the messages: loading, more above, or the start of the room. */
export function renderHistoryStatus() {
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
    if (r.byId.has(message.id)) {
      applyState(r, message);
      continue;
    }
    const li = messageElement(r, message);
    r.messages.set(message.id, message);
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

/** A short page has no scroll bar to pull older messages with: fetch until there is one. */
export function fillScreen(r) {
  if (r.hasMore && scroller.scrollHeight <= scroller.clientHeight + NEAR_TOP_PX) loadOlder(r);
}

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

/** "Turn on notifications": there until the user answers the browser's question. */
export function renderNotifyButton() {
  const button = $("notify");
  button.hidden = !("Notification" in window) || Notification.permission !== "default";
}

/** Scrolling (read marks, older pages), the new-messages pill, notifications, tab visibility. */
export function bindMessages() {
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
}
