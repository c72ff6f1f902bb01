// The room list in the sidebar: my rooms, more rooms, direct messages; unread counts, the title.
import { $, avatar, element, unreadText, userText } from "./dom.js";
import { isPinned } from "./messages.js";
import { renderStrangerEntry } from "./private.js";
import { enter } from "./rooms.js";
import {
  activeRoom,
  directory,
  joinedRooms,
  kindOf,
  place,
  readMarks,
  rooms,
  roomsFetch,
  saveReadMarks,
  selfIn,
  state,
} from "./state.js";

/** Messages of others in `r` after its read mark (none for a room never read here). */
export function unreadCount(r) {
  const mark = readMarks[r.name];
  if (mark === undefined) return 0;
  let unread = 0;
  for (const [id, li] of r.byId) if (id > mark && li.dataset.user !== selfIn(r)) unread += 1;
  return unread;
}

/** `r` is read up to its newest message: when it is on screen, scrolled down, or `force`. */
export function markRead(r, force = false) {
  if (!force && (document.hidden || r.name !== state.active || !isPinned())) return;
  r.newBelow = 0;
  if (r.name === state.active) $("new-messages").hidden = true;
  if (readMarks[r.name] === r.lastId) return;
  readMarks[r.name] = r.lastId;
  saveReadMarks();
  renderRooms();
}

function unreadBadge(unread) {
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = unreadText(unread);
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

/** The sidebar's lists, the unread counts, and the document's title. */
export function renderRooms() {
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
  $("rooms-unread").textContent = unreadText(elsewhere);
  $("open-rooms").setAttribute("aria-label", elsewhere ? `Rooms, ${elsewhere} unread` : "Rooms");
  const where = state.view === "stranger" ? "Talk to a stranger" : state.active ? place(state.active) : "Rooms";
  document.title = `${total > 0 ? `(${total}) ` : ""}${where} · Chat`;
}

/** "Show more rooms": there while the directory has a next page, off while one is coming. */
export function renderMoreRooms() {
  const more = $("more-rooms");
  more.hidden = !directory.next;
  more.disabled = roomsFetch.busy;
}
