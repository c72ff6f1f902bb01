// Rooms: joining (and catching up on every connection), leaving, and the room directory.
import { ask, retryDelay, socket } from "./connection.js";
import {
  CATCH_UP_PAGES,
  RETRY_MS,
  RETRYABLE,
  ROOMS_PAGE,
  ROOMS_REFRESH_MS,
  UNJOINABLE,
  UNREPORTED,
} from "./constants.js";
import { $, composer } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { renderRoom, show } from "./layout.js";
import { addMessages, applyState } from "./messages.js";
import { dropPending, pump } from "./outbox.js";
import { adoptDm, pairEnded } from "./private.js";
import { applyMute, applyStaff } from "./moderation.js";
import { markRead, renderMoreRooms, renderRooms } from "./sidebar.js";
import {
  directory,
  firstRoom,
  kindOf,
  outbox,
  place,
  readMarks,
  refusedDms,
  room,
  rooms,
  roomsFetch,
  saveJoined,
  selfIn,
  state,
  stranger,
} from "./state.js";
import { explain, roomName, sortNames } from "./text.js";

/**
 * Join `name` on this connection, catching up on what came since the newest message held.
 * Resolves true when joined; on a refusal the page reports it, and forgets or retries the room.
 */
export async function joinRoom(name) {
  const r = room(name);
  // Holding messages: ask only for what came after the newest (protocol: join with `since`).
  let since = r.lastId > 0 ? r.lastId : null;
  for (let page = 0; page < CATCH_UP_PAGES; page += 1) {
    const askedAt = Date.now();
    // With `since`, also the changes since the revision held (protocol "Room revisions").
    const ack = await ask("join", since === null ? { room: name } : { room: name, since, rev: r.rev });
    if (rooms.get(name) !== r || (r.kind === "pair" && r.ended)) return false; // left meanwhile
    if (!ack.ok) {
      const code = ack.error?.code;
      // A stranger chat whose grace period ran out while this page was away.
      if (r.kind === "pair" && code === "forbidden") {
        if (stranger.room === name) pairEnded("This chat has ended.", "The chat has ended.");
        return false;
      }
      if (UNJOINABLE.includes(code)) {
        if (r.kind === "dm") refusedDms.add(name);
        forget(name);
      }
      if (!UNREPORTED.includes(code)) {
        showError(explain(ack.error, "join", place(name), r.kind), "join");
      }
      if (RETRYABLE.includes(code)) {
        // Never before the time a `rate_limited` names: an early retry counts as flooding.
        const wait = Math.max(RETRY_MS, retryDelay(ack.error));
        setTimeout(() => socket.connected && r.joined && !r.ready && joinRoom(name), wait);
      }
      return false;
    }
    if (ack.updates_truncated === true) {
      // Too much changed while away: drop what the page holds of the room and load it afresh.
      reload(r);
      since = null;
      continue;
    }
    applyJoin(r, ack, since, askedAt);
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

/**
 * A `join` (or `dm`) ack: the room's details, who is online, and the messages it carries
 * (`askedAt`: when the request was sent).
 */
export function applyJoin(r, ack, since, askedAt = 0) {
  r.joined = true;
  r.ready = true;
  r.topic = ack.room?.topic ?? "";
  if (typeof ack.room?.with === "string") r.with = ack.room.with;
  // a stranger chat names this user by alias: the member who is not the partner
  if (r.kind === "pair" && !r.you && Array.isArray(ack.members) && ack.members.length === 2) {
    r.you = ack.members.find((member) => member !== r.with) ?? null;
  }
  applyStaff(r, ack.room);
  r.members = sortNames(ack.members);
  if (since === null) r.hasMore = ack.has_more;
  // Changed messages first (they are older than the new ones), then the new ones.
  if (Array.isArray(ack.updates)) for (const message of ack.updates) applyState(r, message);
  addMessages(r, ack.messages, false);
  // Every change up to room.rev is in this ack; later ones come as events.
  if (Number.isSafeInteger(ack.room?.rev)) r.rev = Math.max(r.rev, ack.room.rev);
  applyMute(r, ack.room, askedAt);
}

/** Forget every message `r` holds (unsent ones stay), to load the room again from its end. */
function reload(r) {
  for (const li of r.byId.values()) li.remove();
  for (const node of [...r.list.children]) if (node.classList.contains("notice")) node.remove();
  r.byId.clear();
  r.messages.clear();
  Object.assign(r, { lastId: 0, firstId: 0, rev: 0, hasMore: false, newBelow: 0 });
}

/** Not joined any more (left, refused, kicked): gone from the list, its unsent messages with it. */
export function forget(name) {
  const r = rooms.get(name);
  if (!r) return;
  r.joined = false;
  rooms.delete(name);
  for (const item of outbox.filter((i) => i.room === name)) dropPending(item);
  saveJoined();
  if (state.active === name && state.view === "room") show(firstRoom());
  renderRooms();
}

/** Show room `name`, joining it first if the user is not in it. */
export async function enter(name) {
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
    const online = r.members.filter((member) => member !== selfIn(r)).length;
    directory.remember({ name, topic: r.topic, online, kind: "public" });
  }
  forget(name);
}

/** Fetch a page of `rooms`: the first (`after` null) or the one after `after` ("Show more"). */
export async function fetchRooms(after = null, retried = false) {
  if (roomsFetch.busy) {
    if (after === null) roomsFetch.firstAfter = true; // fetched when the current one is done
    return;
  }
  roomsFetch.busy = true;
  renderMoreRooms();
  const askedAt = Date.now();
  if (after === null) roomsFetch.at = askedAt;
  const ack = await ask("rooms", after === null ? { limit: ROOMS_PAGE } : { after, limit: ROOMS_PAGE });
  roomsFetch.busy = false;
  if (ack.ok) {
    if (after === null) directory.applyFirst(ack);
    else directory.applyMore(ack);
    // a mute imposed or lifted while this page was away (protocol: `muted_until`)
    if (Array.isArray(ack.rooms)) {
      for (const entry of ack.rooms) applyMute(rooms.get(entry?.name), entry, askedAt);
    }
    for (const entry of directory.first) if (kindOf(entry.name) === "dm") adoptDm(entry.name, entry.with);
  } else if (ack.error?.code === "rate_limited" && !retried) {
    // Another tab of this user spent the budget: once more when the server allows, no loop.
    clearTimeout(roomsFetch.retry);
    const wait = retryDelay(ack.error);
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
export function refreshRoomsSoon() {
  if (roomsFetch.soon) return;
  roomsFetch.soon = setTimeout(() => {
    roomsFetch.soon = 0;
    if (document.hidden || !socket.connected || Date.now() - roomsFetch.at < ROOMS_REFRESH_MS) return;
    fetchRooms();
  }, 300);
}

/** The join form, "Show more rooms", Leave, and fresh counts when the window gets focus. */
export function bindRooms() {
  window.addEventListener("focus", refreshRoomsSoon);
  $("more-rooms").addEventListener("click", () => directory.next && fetchRooms(directory.next));
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
}
