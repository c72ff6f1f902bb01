// What a person does to a message (protocol: `edit`, `delete`, `react`, `reply_to`): the actions
// shown on hover (touch: "…" or a long press), replying, editing inline, deleting with a confirm.
import { ask } from "./connection.js";
import { TEXT_LIMIT } from "./constants.js";
import { $, composer, element, nodes, scroller, words } from "./dom.js";
import { fillMessage } from "./entry.js";
import { clearError, showError } from "./errors.js";
import { plainText } from "./markdown.js";
import { applyState } from "./messages.js";
import { canDeleteAny } from "./moderation.js";
import { reportButton } from "./private.js";
import { togglePicker } from "./reactions.js";
import { activeRoom, place, selfIn } from "./state.js";
import { explain, number, serverLength, serverTrim } from "./text.js";

const LONG_PRESS_MS = 500;
const PREVIEW_CHARS = 120;

function button(label, className, onClick, name = label) {
  const node = element("button", className, label);
  node.type = "button";
  node.dataset.focus = className;
  if (name !== label) node.setAttribute("aria-label", name);
  node.addEventListener("click", onClick);
  return node;
}

/** The actions of `message` in `r`, for its element `li`: what this user may do with it. */
export function actionsBar(r, message, li) {
  const bar = element("div", "tools");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Message actions");
  const mine = message.user === selfIn(r);
  const more = button("…", "more", () => li.classList.toggle("tools-open"), "More actions");
  bar.append(
    more,
    button("Reply", "reply", () => startReply(r, message.id), `Reply to ${message.user}`),
    button("React", "react", () => togglePicker(r, li)),
  );
  if (mine) bar.append(button("Edit", "edit", () => startEdit(r, li)));
  if (mine || canDeleteAny(r)) bar.append(button("Delete", "delete", () => confirmDelete(r, li)));
  if (!mine && r.kind !== "pair") bar.append(reportButton(r, message));
  return bar;
}

// ---- replying --------------------------------------------------------------------------------

/** Answer message `id` of `r`: its quote above the box until sent or cancelled. */
export function startReply(r, id) {
  const message = r.messages.get(id);
  if (!message || message.deleted) return;
  r.replyTo = { id, user: message.user, text: plainText(message.text).slice(0, 200) };
  renderReplyPreview();
  composer.focus();
}

export function cancelReply(r) {
  if (!r?.replyTo) return;
  r.replyTo = null;
  renderReplyPreview();
}

/** "Replying to bob: …" above the box of the room on screen, with its ×. */
export function renderReplyPreview() {
  const reply = activeRoom()?.replyTo;
  $("reply-preview").hidden = !reply;
  if (!reply) return;
  const excerpt = reply.text.length > PREVIEW_CHARS ? `${reply.text.slice(0, PREVIEW_CHARS)}…` : reply.text;
  const text = element("span", "reply-excerpt", excerpt);
  text.dir = "auto";
  $("reply-label").replaceChildren(...nodes(words`Replying to ${reply.user}: `), text);
}

// ---- editing -------------------------------------------------------------------------------

function closeEditor(r, li) {
  li.editor = null;
  const message = r.messages.get(Number(li.dataset.id));
  if (message) fillMessage(r, li, message);
  composer.focus();
}

async function saveEdit(r, li, box) {
  const id = Number(li.dataset.id);
  const held = r.messages.get(id);
  const text = serverTrim(box.value);
  if (!held || held.deleted) return closeEditor(r, li);
  if (!text) return showError("A message can't be empty: use Delete to take it back.", "edit");
  if (serverLength(text) > TEXT_LIMIT) {
    return showError(`That message is too long: the limit is ${number(TEXT_LIMIT)} characters.`, "edit");
  }
  if (text === held.text) return closeEditor(r, li);
  box.readOnly = true;
  const ack = await ask("edit", { room: r.name, id, text });
  box.readOnly = false;
  if (!ack.ok) return showError(explain(ack.error, "edit", place(r.name), r.kind), "edit");
  clearError("edit");
  li.editor = null;
  if (!applyState(r, ack.message)) closeEditor(r, li);
  else composer.focus();
}

/** Edit this user's message `li` of `r` in place: Enter saves, Esc cancels. */
export function startEdit(r, li) {
  const message = r.messages.get(Number(li.dataset.id));
  if (!message || message.deleted) return;
  if (li.editor) return li.editor.querySelector("textarea").focus();
  const editor = element("div", "editor");
  const box = element("textarea");
  box.value = message.text;
  box.dir = "auto";
  box.rows = Math.min(8, message.text.split("\n").length);
  box.dataset.focus = "editor";
  box.setAttribute("aria-label", "Edit message");
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      closeEditor(r, li);
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
      event.preventDefault();
      saveEdit(r, li, box);
    }
  });
  const hint = element("p", "editor-hint", "Enter saves · Esc cancels · ");
  hint.append(
    button("Save", "save", () => saveEdit(r, li, box)),
    " ",
    button("Cancel", "cancel", () => closeEditor(r, li)),
  );
  editor.append(box, hint);
  li.editor = editor;
  fillMessage(r, li, message);
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

/** Up-arrow in an empty box: edit this user's newest message (not deleted) in the room on screen. */
export function editLast() {
  const r = activeRoom();
  if (!r) return false;
  const self = selfIn(r);
  for (let li = r.list.lastElementChild; li; li = li.previousElementSibling) {
    if (!li.classList.contains("message") || li.classList.contains("pending")) continue;
    if (li.dataset.user === self && !li.classList.contains("deleted")) {
      startEdit(r, li);
      li.scrollIntoView({ block: "nearest" });
      return true;
    }
  }
  return false;
}

// ---- deleting ------------------------------------------------------------------------------

function closePanel(li) {
  li.panel?.remove();
  li.panel = null;
}

/** "Delete this message?" under `li`, with Delete and Cancel: nothing is deleted on one click. */
function confirmDelete(r, li) {
  closePanel(li);
  const id = Number(li.dataset.id);
  const message = r.messages.get(id);
  const panel = element("div", "confirm");
  panel.setAttribute("role", "group");
  panel.setAttribute("aria-label", "Confirm delete");
  const question = element("span");
  const whose = message && message.user !== selfIn(r);
  question.append(...nodes(whose ? words`Delete this message from ${message.user}?` : "Delete this message?"));
  const yes = button("Yes, delete", "danger confirm-delete", () => remove(r, li, id));
  const no = button("Cancel", "secondary", () => closePanel(li));
  panel.append(question, " ", yes, " ", no);
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    closePanel(li);
  });
  li.panel = panel;
  li.append(panel);
  yes.focus();
}

async function remove(r, li, id) {
  closePanel(li);
  const ack = await ask("delete", { room: r.name, id });
  if (!ack.ok) return showError(explain(ack.error, "delete", place(r.name), r.kind), "delete");
  clearError("delete");
  applyState(r, ack.message);
}

// ---- touch ---------------------------------------------------------------------------------

/** A long press on a message opens its actions on touch screens (as "…" does). */
export function bindActions() {
  let timer = 0;
  const cancel = () => clearTimeout(timer);
  scroller.addEventListener("pointerdown", (event) => {
    if (event.pointerType !== "touch") return;
    const li = event.target.closest?.(".message:not(.pending):not(.deleted)");
    if (!li) return;
    cancel();
    timer = setTimeout(() => li.classList.add("tools-open"), LONG_PRESS_MS);
  });
  for (const type of ["pointerup", "pointercancel", "pointermove"]) scroller.addEventListener(type, cancel);
}
