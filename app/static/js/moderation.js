// Moderation in the page (protocol: "Moderation"): roles, the topic, the members panel's
// actions, and what this user sees when kicked, banned or muted (Bans and mutes: sanctions.js).
import { renderComposer } from "./composer.js";
import { ask } from "./connection.js";
import { $, element, me, plain, words } from "./dom.js";
import { showError } from "./errors.js";
import { renderRoom } from "./layout.js";
import { addNotice } from "./messages.js";
import { forget } from "./rooms.js";
import { activeRoom, rooms, state } from "./state.js";
import { explain, fullTime, shortTime } from "./text.js";

// Lowest first: nobody acts on someone whose rank is not below their own (the server decides).
const MEMBER = 0;
const MODERATOR = 1;
const OWNER = 2;
const ADMIN = 3;
const DEFAULT_MUTE_MINUTES = 10;
// setTimeout's longest delay (about 24.8 days): a longer mute is not re-enabled by a timer.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The member the panel acts on: { room, user }, or null when the panel is closed. */
const target = { room: null, user: null };

/** A room object's staff (join/dm ack, room_updated) onto the page's room. */
export function applyStaff(r, object) {
  if (!object) return;
  r.owner = typeof object.owner === "string" ? object.owner : null;
  r.moderators = Array.isArray(object.moderators) ? object.moderators : [];
  // `room_updated` has no role: the page works it out, keeping what an admin learnt on join
  if (typeof object.role === "string") r.admin = object.role === "owner" && r.owner !== me;
}

function rankOf(r, user) {
  if (r.kind !== "public") return MEMBER;
  if (user === me && r.admin) return ADMIN;
  if (user === r.owner) return OWNER;
  return r.moderators?.includes(user) ? MODERATOR : MEMBER;
}

/** Whether this user may delete anyone's message in `r`: a moderator, the owner or an admin. */
export function canDeleteAny(r) {
  return r.kind === "public" && rankOf(r, me) >= MODERATOR;
}

/** Whether this user may act on `user` in `r` (kick, ban, mute): a moderator and up, above them. */
function outranks(r, user) {
  const mine = rankOf(r, me);
  return user !== me && mine >= MODERATOR && mine > rankOf(r, user);
}

/** What the members panel shows next to `user` in `r`: a role label and, when allowed, Moderate. */
export function memberControls(r, user) {
  const controls = [];
  if (r.kind !== "public") return controls;
  const rank = rankOf(r, user);
  if (user === r.owner) controls.push(element("span", "role-badge", "owner"));
  else if (rank === MODERATOR) controls.push(element("span", "role-badge", "moderator"));
  if (outranks(r, user)) {
    const button = element("button", "secondary mod-button", "Moderate");
    button.type = "button";
    button.dataset.user = user;
    button.setAttribute("aria-label", `Moderate ${user}`);
    button.addEventListener("click", () => openPanel(r, user));
    controls.push(button);
  }
  return controls;
}

function openPanel(r, user) {
  Object.assign(target, { room: r.name, user });
  $("mod-reason").value = "";
  $("mod-minutes").value = "";
  $("mod-status").textContent = "";
  renderModeration();
  $("mod-reason").focus();
}

function closePanel() {
  Object.assign(target, { room: null, user: null });
  renderModeration();
}

/** The topic's Edit button, Bans and mutes, and the members' moderation panel, for the room on
 * screen. */
export function renderModeration() {
  const r = activeRoom();
  const moderating = state.view === "room" && r?.kind === "public" && !r.ended;
  $("edit-topic").hidden = !moderating || rankOf(r, me) < MODERATOR || !$("topic-form").hidden;
  $("sanctions-open").hidden = !moderating || rankOf(r, me) < MODERATOR;
  if (!moderating || rankOf(r, me) < MODERATOR) $("topic-form").hidden = true;
  const open = moderating && target.room === r.name && outranks(r, target.user);
  if (!open && target.room) Object.assign(target, { room: null, user: null });
  $("mod-panel").hidden = !open;
  if (!open) return;
  $("mod-heading").textContent = `Moderate ${target.user}`;
  const owner = rankOf(r, me) >= OWNER;
  const isModerator = rankOf(r, target.user) === MODERATOR;
  $("mod-panel").querySelector('[data-action="moderator"]').hidden = !owner || isModerator;
  $("mod-panel").querySelector('[data-action="member"]').hidden = !owner || !isModerator;
}

// ---- acting -------------------------------------------------------------------------------

const DONE = {
  kick: "was kicked",
  ban: "was banned",
  mute: "was muted",
  unmute: "was unmuted",
  moderator: "is now a moderator",
  member: "is no longer a moderator",
};

function payloadFor(action, room, user) {
  const reason = $("mod-reason").value.trim();
  const typed = $("mod-minutes").value.trim();
  const minutes = typed ? Number(typed) : null;
  if (minutes !== null && !(Number.isInteger(minutes) && minutes >= 1 && minutes <= 525600)) {
    return { error: "Minutes are a whole number from 1 to 525600 (a year)." };
  }
  if (action === "moderator" || action === "member") return { event: "set_role", data: { room, user, role: action } };
  if (action === "unmute") return { event: "unmute", data: { room, user } };
  const data = { room, user, ...(reason ? { reason } : {}) };
  if (action === "mute") data.minutes = minutes ?? DEFAULT_MUTE_MINUTES;
  else if (action === "ban" && minutes !== null) data.minutes = minutes;
  return { event: action, data };
}

async function act(action) {
  if (action === "close") return closePanel();
  const { room, user } = target;
  if (!room) return;
  const request = payloadFor(action, room, user);
  const status = $("mod-status");
  if (request.error) {
    status.textContent = request.error;
    return;
  }
  status.textContent = "…";
  const ack = await ask(request.event, request.data);
  if (target.room !== room || target.user !== user) return; // the panel moved on meanwhile
  status.textContent = ack.ok ? `${user} ${DONE[action]}.` : refusal(ack.error, room);
}

/** A refusal in words: the server's own sentence says why a moderation event was not allowed. */
export function refusal(error, room) {
  if (error?.code === "forbidden" || error?.code === "invalid") return error.message;
  return explain(error, "moderate", `#${room}`);
}

async function saveTopic(event) {
  event.preventDefault();
  const r = activeRoom();
  if (!r) return;
  const ack = await ask("set_topic", { room: r.name, topic: $("topic-input").value });
  if (!ack.ok) return showError(refusal(ack.error, r.name), "topic");
  $("topic-form").hidden = true;
  renderModeration();
}

// ---- what the server tells this user -------------------------------------------------------

/** `room_updated`: a room's topic or moderators changed. */
export function roomUpdated({ room: object } = {}) {
  const r = rooms.get(object?.name);
  if (!r) return;
  r.topic = typeof object.topic === "string" ? object.topic : "";
  applyStaff(r, object);
  if (r.name === state.active) renderRoom();
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** `kicked`: every tab drops the room, and says who did it, why, and for how long. */
export function kicked({ room: name, by, reason, banned, until } = {}) {
  if (typeof name !== "string") return;
  const end = until ? when(until) : null;
  let text = banned ? `You were banned from #${name} by ${by}` : `You were removed from #${name} by ${by}`;
  if (banned) text += end ? ` until ${fullTime(end)}` : " until a moderator lifts it";
  text += reason ? `: ${reason}` : ".";
  if (rooms.has(name)) forget(name);
  showError(text, "kicked");
}

/** Whether this user is muted in `r` now (the page's view: the server decides every send). */
export function isMuted(r) {
  return Boolean(r?.mutedUntil) && r.mutedUntil > Date.now();
}

/** Close the box of `r` until `end`, and reopen it by itself when that time comes. */
function muteUntil(r, end) {
  r.mutedUntil = end.getTime();
  clearTimeout(r.muteTimer);
  const wait = r.mutedUntil - Date.now();
  if (wait < MAX_TIMER_MS) r.muteTimer = setTimeout(() => mutedEnded(r, "Your mute has ended."), Math.max(0, wait));
  if (r.name === state.active) renderComposer();
}

/** `muted`: the box of that room is closed until the mute ends, with a notice. */
export function muted({ room: name, by, until, reason } = {}) {
  const r = rooms.get(name);
  const end = when(until);
  if (!r || !end) return;
  r.muteNewsAt = Date.now();
  const why = reason ? `: ${reason}` : "";
  addNotice(r, words`${by} muted you here until ${shortTime(end)}${why}`);
  muteUntil(r, end);
}

/**
 * A room object's `muted_until` (join/dm ack, `rooms` entry) onto a joined room: a page that
 * reloaded, or missed `muted`/`unmuted` while offline, learns its mute here. `askedAt`: when
 * the request was sent (Date.now()).
 */
export function applyMute(r, object, askedAt = 0) {
  if (!r || typeof object !== "object" || !object) return;
  if (!("muted_until" in object)) return; // a server that does not send it
  // a `muted` or `unmuted` that came after the request is newer than the ack's answer
  if (r.muteNewsAt >= askedAt) return;
  const end = typeof object.muted_until === "string" ? when(object.muted_until) : null;
  if (end && end.getTime() > Date.now()) {
    if (r.mutedUntil === end.getTime()) return; // known already: no second notice
    addNotice(r, words`You are muted here until ${shortTime(end)}`);
    muteUntil(r, end);
  } else if (r.mutedUntil) {
    mutedEnded(r, "You can write here again.");
  }
}

function mutedEnded(r, note) {
  clearTimeout(r.muteTimer);
  r.mutedUntil = null;
  addNotice(r, note);
  if (r.name === state.active) renderComposer();
}

/** `unmuted`: the box opens again (sent also when there was no mute: then nothing to say). */
export function unmuted({ room: name } = {}) {
  const r = rooms.get(name);
  if (r) r.muteNewsAt = Date.now();
  if (r?.mutedUntil) mutedEnded(r, "You can write here again.");
}

/** The placeholder of the box of a room this user is muted in. */
export function mutedPlaceholder(r) {
  return plain(words`You are muted in #${r.name} until ${shortTime(new Date(r.mutedUntil))}`);
}

/** Edit topic, its form, and the moderation panel's buttons. */
export function bindModeration() {
  $("edit-topic").addEventListener("click", () => {
    const r = activeRoom();
    if (!r) return;
    $("topic-input").value = r.topic;
    $("topic-form").hidden = false;
    renderModeration();
    $("topic-input").focus();
  });
  $("topic-cancel").addEventListener("click", () => {
    $("topic-form").hidden = true;
    renderModeration();
  });
  $("topic-form").addEventListener("submit", saveTopic);
  $("mod-panel").addEventListener("submit", (event) => event.preventDefault());
  for (const button of $("mod-panel").querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
}
