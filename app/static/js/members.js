// Who is in the room on screen (presence) and who is typing there.
import { TYPING_STALE_MS } from "./constants.js";
import { $, avatar, element, nodes, userText, words } from "./dom.js";
import { addNotice } from "./messages.js";
import { memberControls, renderModeration } from "./moderation.js";
import { openDm, renderStranger } from "./private.js";
import { renderRooms } from "./sidebar.js";
import { activeRoom, rooms, selfIn, state, stranger } from "./state.js";
import { sortNames } from "./text.js";

function dmButton(name) {
  const button = element("button", "secondary dm-button", "DM");
  button.type = "button";
  button.dataset.user = name;
  button.setAttribute("aria-label", `DM ${name}`);
  button.title = `Send ${name} a direct message`;
  button.addEventListener("click", () => openDm(name));
  return button;
}

/** The members panel: who is online in the room on screen, each with a DM button. */
export function renderMembers() {
  const r = activeRoom();
  const members = r && !r.ended ? r.members : [];
  const focused = document.activeElement?.classList.contains("dm-button") && document.activeElement.dataset.user;
  $("member-list").replaceChildren(
    ...members.map((name) => {
      const li = element("li", "member");
      li.append(avatar(name), userText("span", "member-name", name));
      if (name === selfIn(r)) li.append(element("span", "you", "(you)"));
      // no DM with the other member of a DM, nor with a stranger (by alias: not_found)
      else if (r.kind === "public") li.append(dmButton(name));
      li.append(...memberControls(r, name));
      return li;
    }),
  );
  if (focused) document.querySelector(`.dm-button[data-user="${CSS.escape(focused)}"]`)?.focus();
  $("online-count").textContent = String(members.length);
  $("members-heading").textContent = `Online · ${members.length}`;
  renderModeration();
}

/** `presence`: someone's page joined or left a room this page is in. */
export function presenceChanged({ room: name, user, status }) {
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
}

/** `typing`: someone else started or stopped typing; an indicator goes stale by itself. */
export function typingChanged({ room: name, user, typing }) {
  const r = rooms.get(name);
  if (!r?.joined || user === selfIn(r)) return;
  clearTimeout(r.typing.get(user));
  if (typing) r.typing.set(user, setTimeout(() => stopShowingTyping(r, user), TYPING_STALE_MS));
  else r.typing.delete(user);
  if (name === state.active) renderTyping();
}

export function stopShowingTyping(r, user) {
  if (!r.typing.has(user)) return;
  clearTimeout(r.typing.get(user));
  r.typing.delete(user);
  if (r.name === state.active) renderTyping();
}

/** Nobody is typing in `r` any more (its connection or the chat is gone); no re-render. */
export function clearTyping(r) {
  for (const timer of r.typing.values()) clearTimeout(timer);
  r.typing.clear();
}

/** "bob is typing…" under the room on screen. */
export function renderTyping() {
  const names = activeRoom() ? sortNames(activeRoom().typing.keys()) : [];
  let text = "";
  if (names.length === 1) text = words`${names[0]} is typing…`;
  else if (names.length === 2) text = words`${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = words`${names[0]}, ${names[1]} and ${names.length - 2} more are typing…`;
  $("typing").replaceChildren(...nodes(text));
}
