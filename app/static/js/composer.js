// The message box: its size and character count, sending, and this user's typing signals.
import { cancelReply, editLast, renderReplyPreview } from "./actions.js";
import { socket } from "./connection.js";
import { COUNT_FROM, TEXT_LIMIT, TYPING_IDLE_MS, TYPING_REFRESH_MS } from "./constants.js";
import { $, composer } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { isPinned, scrollToBottom } from "./messages.js";
import { isMuted, mutedPlaceholder } from "./moderation.js";
import { queueMessage } from "./outbox.js";
import { activeRoom, place, rooms, state, stranger, typing } from "./state.js";
import { number, seconds, serverLength, serverTrim } from "./text.js";

// ---- typing signals (protocol: `typing`) ---------------------------------------------------

function sendTyping(name, on) {
  if (!socket.connected || !rooms.get(name)?.ready || !typing.budget.take()) return false;
  socket.emit("typing", { room: name, typing: on }, (ack) => {
    // Refused after all (another tab of this user spends the same budget): wait as told.
    if (ack?.ok === false && ack.error?.code === "rate_limited") {
      typing.budget.pause(seconds(ack.error.retry_after) * 1000);
    }
  });
  return true;
}

// Without a token, a `false` waits for one; a newer `true` to that room replaces it. (Others'
// pages also clear an indicator on the typist's message, and after 5 s without a refresh.)
function sendFalse(name) {
  clearTimeout(typing.pendingFalseTimer);
  typing.pendingFalse = null;
  if (sendTyping(name, false) || !socket.connected || !rooms.get(name)?.ready) return;
  typing.pendingFalse = name;
  typing.pendingFalseTimer = setTimeout(
    () => typing.pendingFalse === name && sendFalse(name),
    typing.budget.wait() + 10,
  );
}

/** This user stopped typing: a `false` to the room a `true` went to, if one did. */
export function stopTyping() {
  clearTimeout(typing.idle);
  clearTimeout(typing.later);
  typing.later = 0;
  typing.active = false;
  if (typing.in) sendFalse(typing.in);
  typing.in = null;
}

// Protocol: `true` at most every 2 s while keys are pressed, `false` only after a `true`.
function signalTyping() {
  const r = activeRoom();
  if (!typing.active || !r || typing.later) return;
  const wait = Math.max(typing.lastTrueAt + TYPING_REFRESH_MS - Date.now(), typing.budget.wait());
  if (wait > 0) {
    typing.later = setTimeout(() => {
      typing.later = 0;
      signalTyping();
    }, wait);
    return;
  }
  if (typing.pendingFalse === r.name) {
    clearTimeout(typing.pendingFalseTimer);
    typing.pendingFalse = null;
  }
  if (sendTyping(r.name, true)) {
    typing.in = r.name;
    typing.lastTrueAt = Date.now();
  }
}

function typed() {
  const r = activeRoom();
  if (!r || !composer.value.trim()) return stopTyping();
  if (typing.in && typing.in !== r.name) stopTyping();
  clearTimeout(typing.idle);
  typing.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  typing.active = true;
  signalTyping();
}

// ---- the box -------------------------------------------------------------------------------

/** The box and Send: open for the room on screen, and a placeholder that says where to. */
export function renderComposer() {
  const r = activeRoom();
  const open = Boolean(r) && !r.ended && !isMuted(r);
  composer.disabled = !open;
  $("send-form").querySelector("button").disabled = !open;
  if (r?.ended) composer.placeholder = "This chat has ended";
  else if (isMuted(r)) composer.placeholder = mutedPlaceholder(r);
  else if (!r && state.view === "stranger") {
    composer.placeholder = stranger.status === "waiting" ? "Waiting for someone…" : "Press Start to talk to a stranger";
  } else if (!r) composer.placeholder = "Join a room to chat";
  else if (socket.connected) composer.placeholder = `Message ${place(r.name)}`;
  else composer.placeholder = `Message ${place(r.name)} (sent when the connection returns)`;
  renderReplyPreview();
}

/** The box grows with its text, up to a limit. */
export function autosize() {
  const pinned = isPinned();
  composer.style.height = "auto";
  composer.style.height = `${Math.min(composer.scrollHeight + 2, 160)}px`;
  // A taller box makes the list shorter: keep its newest line (a failed message's buttons) in view.
  if (pinned) scrollToBottom();
}

// Near the limit, a count as the server counts ("3,612 / 4,000"); over it, in the error colour.
export function renderCount() {
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

/** `text` back in the box (a failed message to edit), before anything typed since. */
export function putBack(text) {
  const typedSince = composer.value.trim() ? `\n${composer.value}` : "";
  composer.value = text + typedSince;
  const r = activeRoom();
  if (r) r.draft = composer.value;
  autosize();
  renderCount();
  composer.focus();
  composer.setSelectionRange(text.length, text.length);
}

/** Typing, Enter to send (Shift+Enter: a new line), and the send form. */
export function bindComposer() {
  composer.addEventListener("input", () => {
    autosize();
    renderCount();
    typed();
  });
  composer.addEventListener("keydown", (event) => {
    if (event.isComposing || event.altKey) return;
    // Up in an empty box edits this user's last message; Esc drops the reply being written.
    const plainKey = !event.shiftKey && !event.ctrlKey && !event.metaKey;
    if (event.key === "ArrowUp" && plainKey && composer.value === "") {
      if (editLast()) event.preventDefault();
      return;
    }
    if (event.key === "Escape" && activeRoom()?.replyTo) {
      event.stopPropagation();
      return cancelReply(activeRoom());
    }
    if (event.key !== "Enter" || event.shiftKey) return;
    event.preventDefault();
    $("send-form").requestSubmit();
  });
  $("reply-cancel").addEventListener("click", () => {
    cancelReply(activeRoom());
    composer.focus();
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
    queueMessage(r.name, text, r.replyTo);
    cancelReply(r);
    scrollToBottom();
  });
}
