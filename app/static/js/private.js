// Private conversations: direct messages, blocking, and talking to a stranger.
import { stopTyping } from "./composer.js";
import { ask, retryDelay, socket } from "./connection.js";
import { RETRYABLE, UNREPORTED } from "./constants.js";
import { $, composer, element, nodes, plain, unreadText, words } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { renderRoom, show, showStranger } from "./layout.js";
import { addNotice } from "./messages.js";
import { clearTyping } from "./members.js";
import { dropPending } from "./outbox.js";
import { applyJoin, joinRoom } from "./rooms.js";
import { markRead, renderRooms, unreadCount } from "./sidebar.js";
import {
  activeRoom,
  blocked,
  kindOf,
  outbox,
  readMarks,
  refusedDms,
  room,
  rooms,
  saveBlocked,
  saveReadMarks,
  saveStranger,
  state,
  stranger,
  typing,
} from "./state.js";
import { explain, sortNames } from "./text.js";

// ---- direct messages (protocol: `dm`, `dm_opened`) -----------------------------------------

/**
 * A direct-message room of this user: joined on every connection, so its messages and unread
 * counts arrive like a room's. One the user did not open here starts with everything unread.
 */
export function adoptDm(name, user) {
  if (refusedDms.has(name)) return;
  const r = room(name);
  if (typeof user === "string") r.with = user;
  if (r.joined) return;
  r.joined = true;
  if (!(name in readMarks)) {
    readMarks[name] = 0;
    saveReadMarks();
  }
  if (socket.connected) joinRoom(name);
}

/** Open (or make) the direct-message room with `user` and show it. */
export async function openDm(user) {
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

/** `dm_opened`: a direct-message room was opened for this user (by the other, or again). */
export function dmOpened({ room: name, user } = {}) {
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
}

// ---- blocking (protocol: `block`, `unblock`) -----------------------------------------------

/** A Block / Unblock button for `user`, hidden without one. */
export function renderBlockButton(button, user) {
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
  saveBlocked();
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
    clearTyping(r);
    rooms.delete(name);
  }
  for (const item of outbox.filter((i) => i.room === name)) dropPending(item);
  delete readMarks[name];
  saveReadMarks();
  stranger.room = null;
  stranger.partner = null;
  stranger.you = null;
}

function pairWith(name, partner, you) {
  if (typeof name !== "string" || kindOf(name) !== "pair" || typeof partner !== "string") return;
  if (typeof you !== "string") return;
  if (stranger.status === "paired" && stranger.room === name) return;
  if (stranger.room !== name) dropPair();
  // The server has put this connection in the pair's room already (no `join` needed).
  const r = room(name);
  r.with = partner;
  r.ended = false;
  r.joined = true;
  r.ready = socket.connected;
  r.hasMore = false;
  r.you = you;
  r.members = sortNames([you, partner]);
  readMarks[name] = 0;
  saveReadMarks();
  setStranger("paired", { room: name, partner, you });
  if (document.hidden && "Notification" in window && Notification.permission === "granted") {
    new Notification(`You are talking to ${partner}`, { tag: "chat-stranger" });
  }
}

/** The chat is over: its messages stay on screen, with `note` below them, until Start. */
export function pairEnded(status, note) {
  const r = rooms.get(stranger.room);
  if (r) {
    r.ended = true;
    r.joined = false;
    r.ready = false;
    clearTyping(r);
    addNotice(r, note);
    if (typing.in === r.name) stopTyping();
  }
  setStranger("ended", { room: stranger.room, partner: stranger.partner, you: stranger.you, note: status });
}

/** Ask to be matched (again after a connection drops while waiting). */
export async function askForPartner() {
  clearTimeout(stranger.retry);
  const ack = await ask("find_partner", {});
  if (stranger.status !== "waiting") return; // stopped, or a partner_found came first
  if (ack.ok) {
    clearError("stranger");
    if (ack.status === "paired") pairWith(ack.room, ack.partner, ack.you);
    return;
  }
  const code = ack.error?.code;
  if (UNREPORTED.includes(code)) return; // asked again after the reconnect
  showError(explain(ack.error, "find_partner"), "stranger");
  if (RETRYABLE.includes(code)) {
    const wait = retryDelay(ack.error);
    stranger.retry = setTimeout(() => stranger.status === "waiting" && askForPartner(), wait);
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
  clearTimeout(stranger.retry);
  if (status === "paired") pairEnded(words`You left the chat with ${partner}.`, "You left the chat.");
  else if (status === "waiting") setStranger("idle");
  else return;
  const ack = await ask("leave_partner", {});
  if (!ack.ok && !UNREPORTED.includes(ack.error?.code)) {
    showError(explain(ack.error, "leave_partner"), "stranger");
  }
}

/** `partner_found`: matched with a stranger. */
export function partnerFound({ room: name, partner, you } = {}) {
  // Matched just as the user pressed Stop (the two crossed on the way): end it at once.
  if (["idle", "ended"].includes(stranger.status) && stranger.room !== name) {
    ask("leave_partner", {});
    return;
  }
  pairWith(name, partner, you);
}

/** `partner_left`: the stranger left the chat. */
export function partnerLeft({ room: name } = {}) {
  if (name !== stranger.room || stranger.status !== "paired") return;
  pairEnded("Your partner left.", words`${stranger.partner} left the chat.`);
}

/** "Talk to a stranger" in the sidebar: unread count and a hint of the chat's status. */
export function renderStrangerEntry() {
  const entry = $("stranger-open");
  if (state.view === "stranger") entry.setAttribute("aria-current", "page");
  else entry.removeAttribute("aria-current");
  const r = stranger.status === "paired" ? rooms.get(stranger.room) : undefined;
  const unread = r && state.view !== "stranger" ? unreadCount(r) : 0;
  $("stranger-unread").hidden = unread === 0;
  $("stranger-unread").textContent = unreadText(unread);
  $("stranger-unread").setAttribute("aria-label", `${unread} unread`);
  const hint = { idle: "", waiting: "waiting…", paired: words`with ${stranger.partner}`, ended: "ended" };
  $("stranger-hint").replaceChildren(...nodes(hint[stranger.status]));
}

/** The stranger panel: its status line and Start, Next, Stop, Block. */
export function renderStranger() {
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
  const controls = ["stranger-start", "stranger-next", "stranger-stop", "stranger-report", "stranger-block"];
  const hadFocus = controls.includes(document.activeElement?.id) ? document.activeElement : null;
  $("stranger-start").hidden = status === "waiting" || status === "paired";
  $("stranger-next").hidden = status !== "paired";
  $("stranger-stop").hidden = status !== "waiting" && status !== "paired";
  renderBlockButton($("stranger-block"), status === "paired" ? partner : null);
  $("stranger-report").hidden = status !== "paired";
  $("stranger-report").setAttribute("aria-label", `Report ${partner ?? "the stranger"}`);
  // A keyboard user's button went away (Start became Stop): keep them in the same place.
  if (hadFocus?.hidden && state.view === "stranger") {
    controls.map($).find((button) => !button.hidden)?.focus();
  }
}

/** The stranger panel's buttons, and Block in a direct message's header. */
export function bindPrivate() {
  $("block").addEventListener("click", () => toggleBlock(activeRoom()?.with));
  $("stranger-open").addEventListener("click", () => {
    showStranger();
    const first = ["stranger-start", "stranger-next"].map($).find((button) => !button.hidden);
    if (stranger.status !== "paired") first?.focus();
  });
  $("stranger-start").addEventListener("click", findPartner);
  $("stranger-next").addEventListener("click", findPartner);
  $("stranger-stop").addEventListener("click", stopStranger);
  $("stranger-block").addEventListener("click", () => toggleBlock(stranger.partner));
  $("stranger-report").addEventListener("click", () => {
    if (stranger.status === "paired") openReport({ user: stranger.partner }, "", " (this ends the chat)");
  });
  bindReportDialog();
}

// ---- reports (protocol: `report`) ------------------------------------------------------------

// What the open report dialog is about: the `report` payload without its reason.
let reporting = null;

/** A Report button for someone else's message in a public room or a DM. */
export function reportButton(r, message) {
  const button = element("button", "link report-button", "Report");
  button.type = "button";
  button.setAttribute("aria-label", `Report this message from ${message.user}`);
  button.title = "Report this message to the admins";
  button.addEventListener("click", () =>
    openReport({ user: message.user, room: r.name, message_id: message.id }, "this message from "),
  );
  return button;
}

function openReport(target, what, after = "") {
  reporting = target;
  $("report-about").replaceChildren(...nodes([`You are reporting ${what}`, { user: target.user }, `${after}.`]));
  $("report-reason").value = "";
  $("report-dialog").showModal();
  $("report-reason").focus();
}

async function sendReport() {
  const target = reporting;
  const reason = $("report-reason").value.trim();
  if (!target || !reason) return;
  reporting = null;
  $("report-dialog").close();
  const ack = await ask("report", { ...target, reason });
  if (!ack.ok) return showError(explain(ack.error, "report", target.user), "report");
  clearError("report");
  // Reporting your stranger ends the chat (protocol: `report`).
  if (!target.room && stranger.status === "paired" && target.user === stranger.partner) {
    pairEnded(words`You reported ${target.user} and left the chat.`, words`You reported ${target.user}.`);
  } else {
    const r = target.room ? rooms.get(target.room) : null;
    if (r) addNotice(r, "Thank you: your report was sent to the admins.");
  }
}

function bindReportDialog() {
  $("report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendReport();
  });
  $("report-cancel").addEventListener("click", () => {
    reporting = null;
    $("report-dialog").close();
  });
}
