// The page's panels: which room or view is on screen, its header, and the phone drawers.
import { autosize, renderComposer, renderCount, stopTyping } from "./composer.js";
import { $, composer, element, scroller } from "./dom.js";
import { fillScreen, isPinned, renderHistoryStatus, renderPill, scrollToBottom } from "./messages.js";
import { renderMembers, renderTyping } from "./members.js";
import { renderBlockButton, renderStranger } from "./private.js";
import { refreshRoomsSoon } from "./rooms.js";
import { markRead, renderRooms } from "./sidebar.js";
import { activeRoom, place, rooms, state, stranger } from "./state.js";

/** Put room `name` on screen (a stranger chat opens the stranger view); null: no room. */
export function show(name) {
  if (name && rooms.get(name)?.kind === "pair") return showStranger();
  display(name, "room");
}

/** Put "Talk to a stranger" on screen, with the current stranger chat if there is one. */
export function showStranger() {
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

/** Everything about the room on screen: header, stranger panel, members, typing, box. */
export function renderRoom() {
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

/** The drawer buttons, the backdrop and Escape. */
export function bindLayout() {
  for (const [id, button] of Object.entries(drawerButtons)) {
    button.addEventListener("click", () => (document.body.dataset.drawer === id ? closeDrawers() : openDrawer(id)));
  }
  $("backdrop").addEventListener("click", closeDrawers);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDrawers();
  });
}
