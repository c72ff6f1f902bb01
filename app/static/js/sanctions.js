// Bans and mutes (protocol: `sanctions`): a moderator's list of a room's bans and mutes still
// on, each with Unban or Unmute.
import { ask } from "./connection.js";
import { $, element, nodes, userText, words } from "./dom.js";
import { refusal } from "./moderation.js";
import { activeRoom } from "./state.js";
import { fullTime } from "./text.js";

const LIFT = { ban: ["Unban", "unban", "is no longer banned"], mute: ["Unmute", "unmute", "is no longer muted"] };

/** The room the dialog lists, while it is open; a counter so a late answer never overwrites a newer one. */
let listing = null;
let asked = 0;

function when(iso) {
  const date = typeof iso === "string" ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date : null;
}

function entry(room, sanction) {
  const [label] = LIFT[sanction.kind] ?? [];
  if (!label || typeof sanction.user !== "string") return null; // a kind this page does not know
  const li = element("li", "sanction");
  const head = element("p", "sanction-head");
  const end = when(sanction.until);
  head.append(
    userText("strong", "sanction-user", sanction.user),
    ` ${sanction.kind === "ban" ? "banned" : "muted"} `,
    end ? `until ${fullTime(end)}` : "until lifted",
  );
  li.append(head);
  if (typeof sanction.reason === "string" && sanction.reason) {
    li.append(userText("p", "sanction-reason", sanction.reason));
  }
  const by = element("p", "sanction-detail");
  const at = when(sanction.at);
  by.append(...nodes(typeof sanction.by === "string" ? words`by ${sanction.by}` : "by a former user"));
  if (at) by.append(`, ${fullTime(at)}`);
  li.append(by);
  const button = element("button", "secondary", label);
  button.type = "button";
  button.setAttribute("aria-label", `${label} ${sanction.user}`);
  button.addEventListener("click", () => lift(room, sanction.user, sanction.kind));
  li.append(button);
  return li;
}

/** Ask the server for the room's list and show it (or why not). */
async function refresh(room, status = "") {
  const mine = ++asked;
  const ack = await ask("sanctions", { room });
  if (mine !== asked || listing !== room) return; // closed, or asked again meanwhile
  if (!ack.ok) {
    $("sanctions-status").textContent = refusal(ack.error, room);
    return;
  }
  const items = (Array.isArray(ack.sanctions) ? ack.sanctions : []).map((s) => entry(room, s)).filter(Boolean);
  $("sanctions-list").replaceChildren(
    ...(items.length ? items : [element("li", "sanctions-empty", `Nobody is banned or muted in #${room}.`)]),
  );
  $("sanctions-status").textContent = status;
}

async function lift(room, user, kind) {
  const [, event, done] = LIFT[kind];
  $("sanctions-status").textContent = "…";
  const ack = await ask(event, { room, user });
  if (listing !== room) return;
  if (!ack.ok) {
    $("sanctions-status").textContent = refusal(ack.error, room);
    return;
  }
  await refresh(room, `${user} ${done}.`);
}

function open() {
  const r = activeRoom();
  if (!r || r.kind !== "public") return;
  listing = r.name;
  $("sanctions-title").textContent = `Bans and mutes in #${r.name}`;
  $("sanctions-list").replaceChildren();
  $("sanctions-status").textContent = "Loading…";
  $("sanctions-dialog").showModal();
  refresh(r.name);
}

function close() {
  listing = null;
  $("sanctions-dialog").close();
}

/** The header's Bans and mutes button and its dialog. */
export function bindSanctions() {
  $("sanctions-open").addEventListener("click", open);
  $("sanctions-close").addEventListener("click", close);
  // Escape closes a modal dialog by itself: forget the room then too
  $("sanctions-dialog").addEventListener("close", () => {
    listing = null;
  });
}
