// The outbox: messages shown at once, sent one at a time, kept across reconnects and reloads.
import { putBack } from "./composer.js";
import { ask, retryDelay, socket } from "./connection.js";
import { NEEDS_EDIT, RETRYABLE } from "./constants.js";
import { avatar, element, header, words } from "./dom.js";
import { messageBody, quoteLine } from "./entry.js";
import { clearError, showError } from "./errors.js";
import { show } from "./layout.js";
import { addMessages, isPinned, regroup, scrollToBottom } from "./messages.js";
import { pairEnded } from "./private.js";
import { joinRoom } from "./rooms.js";
import { kindOf, outbox, place, room, rooms, saveOutbox, selfIn, sending, state, stranger } from "./state.js";
import { explain, newClientId } from "./text.js";

function pendingStatus(item) {
  if (item.state === "failed") return `Not sent: ${item.reason}`;
  if (item.state === "sending" || socket.connected) return "Sending…";
  return "Waiting for the connection…";
}

/** An unsent message's status line, and its buttons once it failed. */
export function renderPendingStatus(item) {
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
  const self = selfIn(rooms.get(item.room));
  li.dataset.user = self;
  li.dataset.time = item.createdAt;
  const meta = header(self, date, date.toISOString());
  const quote = item.reply ? [quoteLine(item.reply)] : [];
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
  li.append(avatar(self), meta, ...quote, messageBody(item.text), element("p", "status"), actions);
  return li;
}

/** Show an outbox item at the end of its room's list. */
export function showPending(item) {
  const r = room(item.room);
  item.li = pendingElement(item);
  r.list.append(item.li);
  regroup(item.li);
  renderPendingStatus(item);
  if (r.name === state.active) scrollToBottom();
}

/** Take `item` out of the outbox and off the page. */
export function dropPending(item) {
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
  putBack(item.text);
}

/** The server stored a message this page sent (seen in an ack, a join or live): not pending. */
export function resolvePending(name, clientId) {
  const item = outbox.find((i) => i.room === name && i.client_id === clientId);
  if (item) dropPending(item);
}

/**
 * Queue `text` for room `name`, answering `reply` ({ id, user, text }) if given: shown at once,
 * sent when the connection allows.
 */
export function queueMessage(name, text, reply = null) {
  const item = { client_id: newClientId(), room: name, text, createdAt: Date.now(), state: "queued" };
  if (reply) item.reply = reply;
  outbox.push(item);
  saveOutbox();
  showPending(item);
  pump();
}

function unquote(item) {
  delete item.reply;
  item.state = "queued";
  item.li?.querySelector(".quote")?.remove();
  saveOutbox();
}

function retryLater(ms) {
  clearTimeout(sending.retryTimer);
  sending.retryTimer = setTimeout(pump, ms);
}

/**
 * Send the outbox to rooms joined on this connection, one message at a time, in the order
 * typed: the server may handle concurrent events in any order.
 */
export async function pump() {
  if (sending.pumping) return;
  sending.pumping = true;
  try {
    while (socket.connected && Date.now() >= sending.pausedUntil) {
      const item = outbox.find((i) => i.state === "queued" && rooms.get(i.room)?.ready);
      if (!item) break;
      item.state = "sending";
      renderPendingStatus(item);
      const payload = { room: item.room, text: item.text, client_id: item.client_id };
      if (Number.isSafeInteger(item.reply?.id)) payload.reply_to = item.reply.id;
      const ack = await ask("message", payload);
      if (ack.ok) {
        clearError("send");
        addMessages(room(item.room), [ack.message], false);
        continue;
      }
      // An ack lost to a dropped connection is retried after the reconnect, not reported.
      const code = socket.connected ? ack.error?.code : "offline";
      if (code === "offline" || RETRYABLE.includes(code)) {
        item.state = "queued";
        renderPendingStatus(item);
        if (code === "offline") break;
        const wait = retryDelay(ack.error);
        sending.pausedUntil = Date.now() + wait;
        showError(explain(ack.error, "send", place(item.room), kindOf(item.room)), "send");
        retryLater(wait);
        break;
      }
      if (code === "not_found" && payload.reply_to) {
        // The message it answers was deleted meanwhile (protocol: `reply_to`): sent without it.
        showError(words`The message from ${item.reply.user} you answered was deleted; yours is sent on its own.`, "send");
        unquote(item);
        continue;
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
    sending.pumping = false;
  }
}

/** A reload or close with messages not sent yet asks first. */
export function bindOutbox() {
  window.addEventListener("beforeunload", (event) => {
    if (outbox.some((item) => item.state !== "failed")) event.preventDefault();
  });
}
