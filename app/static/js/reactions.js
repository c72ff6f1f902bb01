// Reactions (protocol: `react`): the chips under a message, and the picker that adds one.
import { ask } from "./connection.js";
import { element } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { applyState } from "./messages.js";
import { place, selfIn } from "./state.js";
import { explain } from "./text.js";

const COMMON = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];
const EMOJI_LIMIT = 32; // code points (protocol: `react`)

/** Add (`on`) or take back this user's `emoji` on message `id` of `r`. */
export async function react(r, id, emoji, on) {
  const ack = await ask("react", { room: r.name, id, emoji, on });
  if (!ack.ok) return showError(explain(ack.error, "react", place(r.name), r.kind), "react");
  clearError("react");
  applyState(r, ack.message);
}

/** The chips under `message`: each emoji with its count, this user's own highlighted. */
export function reactionChips(r, message) {
  const row = element("div", "reactions");
  const self = selfIn(r);
  for (const [emoji, users] of Object.entries(message.reactions)) {
    const mine = users.includes(self);
    const chip = element("button", "chip");
    chip.type = "button";
    chip.dataset.focus = `chip:${emoji}`;
    chip.setAttribute("aria-pressed", String(mine));
    chip.append(element("span", "emoji", emoji), " ", element("span", "count", String(users.length)));
    // Who reacted; the reader's own name first as "you".
    const names = users.map((user) => (user === self ? "you" : user));
    chip.title = `${names.join(", ")} reacted with ${emoji}`;
    chip.setAttribute("aria-label", `${emoji} ${users.length}: ${chip.title}`);
    chip.addEventListener("click", () => react(r, message.id, emoji, !mine));
    row.append(chip);
  }
  return row;
}

function close(li) {
  li.panel?.remove();
  li.panel = null;
}

/** Open (or close again) the emoji picker under message `li` of `r`: common ones, or any typed. */
export function togglePicker(r, li) {
  const open = li.panel?.classList.contains("picker");
  close(li);
  if (open) return;
  const id = Number(li.dataset.id);
  const picker = element("div", "picker");
  picker.setAttribute("role", "group");
  picker.setAttribute("aria-label", "Add a reaction");
  const pick = (emoji) => {
    close(li);
    react(r, id, emoji, true);
  };
  for (const emoji of COMMON) {
    const button = element("button", "emoji-choice", emoji);
    button.type = "button";
    button.setAttribute("aria-label", `React with ${emoji}`);
    button.addEventListener("click", () => pick(emoji));
    picker.append(button);
  }
  const form = element("form", "emoji-form");
  const input = element("input");
  input.setAttribute("aria-label", "Any emoji");
  input.placeholder = "Any emoji";
  input.autocomplete = "off";
  input.dataset.focus = "emoji";
  const add = element("button", "secondary", "Add");
  add.type = "submit";
  form.append(input, add);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const emoji = input.value.trim();
    if (!emoji) return;
    if ([...emoji].length > EMOJI_LIMIT || /\s/u.test(emoji)) {
      return showError(`A reaction is one emoji (at most ${EMOJI_LIMIT} characters, no spaces).`, "react");
    }
    pick(emoji);
  });
  picker.append(form);
  picker.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    close(li);
  });
  li.panel = picker;
  li.append(picker);
  picker.querySelector("button").focus();
}
