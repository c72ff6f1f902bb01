// The page's fixed elements, who is signed in, and builders for the elements the page adds.
import { fullTime, shortTime } from "./text.js";

export const $ = (id) => document.getElementById(id);
export const layout = document.querySelector(".layout");
export const me = layout.dataset.username;
export const scroller = $("scroller");
export const composer = $("text");

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// User-provided text (names, topics, messages) is isolated from the page's own words: bidi
// controls or right-to-left letters in it cannot reorder what is around it.
export function userText(tag, className, text) {
  const node = element(tag, className, text);
  node.dir = "auto";
  return node;
}

/** words`${user} joined #${room}`: the page's words as text, each value in its own <bdi>. */
export function words(strings, ...values) {
  return strings.flatMap((text, index) => (index < values.length ? [text, { user: values[index] }] : [text]));
}

/** The nodes for a string or words`...`, ready for append or replaceChildren. */
export function nodes(parts) {
  if (typeof parts === "string") return [parts];
  return parts.map((part) => (typeof part === "string" ? part : element("bdi", null, String(part.user))));
}

/** A string or words`...` as plain text. */
export function plain(parts) {
  return typeof parts === "string" ? parts : parts.map((part) => (typeof part === "string" ? part : part.user)).join("");
}

function hue(name) {
  let hash = 0;
  for (const char of name.toLowerCase()) hash = (hash * 31 + char.codePointAt(0)) % 360;
  return hash;
}

/** A user's initial on a colour of their own (the same on every page). */
export function avatar(user) {
  const node = element("span", "avatar", [...user][0].toUpperCase());
  node.setAttribute("aria-hidden", "true");
  node.style.setProperty("--hue", hue(user));
  return node;
}

/** An unread count as a badge shows it: "99+" past 99. */
export function unreadText(unread) {
  return unread > 99 ? "99+" : String(unread);
}

/** A message's author, "(you)" on one's own, and its time. */
export function header(user, date, iso) {
  const meta = element("p", "meta");
  meta.append(userText("span", "author", user));
  if (user === me) meta.append(element("span", "you", "(you)"));
  const time = element("time", null, shortTime(date));
  time.dateTime = iso;
  time.title = fullTime(date);
  meta.append(" ", time);
  return meta;
}
