// One message on the page, drawn from its Message object (protocol "Objects"): the header with
// "(edited)", the line it answers, its Markdown text or "message deleted", reactions, actions.
import { actionsBar } from "./actions.js";
import { avatar, element, header, userText } from "./dom.js";
import { plainText, renderMarkdown } from "./markdown.js";
import { reactionChips } from "./reactions.js";
import { selfIn } from "./state.js";
import { fullTime } from "./text.js";

const HIGHLIGHT_MS = 2_000;

/** The message text as the page shows it: rendered Markdown, isolated from the page's words. */
export function messageBody(text) {
  const body = userText("div", "text");
  renderMarkdown(text, body);
  return body;
}

/**
 * The quoted line of a reply: its author and (current) text, or "message deleted". `r` given:
 * clicking it brings the quoted message into view when the page holds it.
 */
export function quoteLine(reply, r = null) {
  const quote = element(r ? "button" : "p", "quote");
  const author = userText("span", "quote-author", reply.user);
  const text = reply.deleted
    ? element("span", "quote-text gone", "message deleted")
    : userText("span", "quote-text", plainText(reply.text));
  quote.append(element("span", "quote-mark", "↪"), " ", author, " ", text);
  if (r) {
    quote.type = "button";
    quote.title = "Show the message this answers";
    quote.addEventListener("click", () => reveal(r, reply.id));
  }
  return quote;
}

/** Scroll to message `id` of `r` and make it stand out for a moment; false when not loaded. */
export function reveal(r, id) {
  const li = r.byId.get(id);
  if (!li) return false;
  li.scrollIntoView({ block: "center", behavior: "smooth" });
  li.classList.remove("highlight");
  void li.offsetWidth; // restart the animation when it is still running
  li.classList.add("highlight");
  clearTimeout(li.highlightTimer);
  li.highlightTimer = setTimeout(() => li.classList.remove("highlight"), HIGHLIGHT_MS);
  return true;
}

function editedMark(message) {
  const mark = element("p", "edited", "(edited)");
  mark.title = `Edited ${fullTime(new Date(message.edited_at))}`;
  return mark;
}

/**
 * Fill `li` (new, or showing an older state) with `message` in room `r`. An open editor, emoji
 * picker or delete confirmation stays open, and so does keyboard focus on one of its controls.
 */
export function fillMessage(r, li, message) {
  const date = new Date(message.ts);
  const mine = message.user === selfIn(r);
  li.classList.toggle("mine", mine);
  li.classList.toggle("deleted", Boolean(message.deleted));
  li.dataset.id = message.id;
  li.dataset.user = message.user;
  li.dataset.time = date.getTime();
  if (message.deleted) {
    li.editor = null;
    li.panel = null;
    li.classList.remove("tools-open");
  }
  const focused = li.contains(document.activeElement) ? document.activeElement.dataset.focus : undefined;

  const parts = [avatar(message.user), header(message.user, date, message.ts)];
  if (message.reply_to) parts.push(quoteLine(message.reply_to, r));
  if (message.deleted) parts.push(element("div", "text tombstone", "message deleted"));
  else parts.push(li.editor ?? messageBody(message.text));
  // Under the text, not in the header: a grouped message's header is hidden.
  if (message.edited_at && !message.deleted && !li.editor) parts.push(editedMark(message));
  if (!message.deleted && Object.keys(message.reactions ?? {}).length) parts.push(reactionChips(r, message));
  if (!message.deleted) parts.push(actionsBar(r, message, li));
  if (li.panel) parts.push(li.panel);
  li.replaceChildren(...parts);
  if (focused) li.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}
