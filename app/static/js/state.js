// The page's client state, all of it here: rooms, screen, connection, outbox, stranger, typing.
// Modules change it through these objects; storage keeps read marks, rooms, outbox and stranger.
import { TokenBucket } from "./budget.js";
import { GENERAL, STORED } from "./constants.js";
import { Directory } from "./directory.js";
import { layout, me } from "./dom.js";

// ---- storage: read marks and joined rooms per user, unsent messages per tab ----------------

function storageKey(what) {
  return `chat:${me.toLowerCase()}:${what}`;
}

/** What was saved under `what` (a key of STORED) in `store`, or `fallback`. */
export function load(store, what, fallback) {
  try {
    return JSON.parse(store.getItem(storageKey(what))) ?? fallback;
  } catch {
    return fallback;
  }
}

function save(store, what, value) {
  try {
    store.setItem(storageKey(what), JSON.stringify(value));
  } catch {
    // Private windows may refuse storage: the page works, it just forgets on reload.
  }
}

/** Room name -> the id of the newest message read there. */
export const readMarks = load(localStorage, STORED.read, {});

export function saveReadMarks() {
  save(localStorage, STORED.read, readMarks);
}

/** Whom this user blocked, lowercased (labels only: the server enforces blocks). */
export const blocked = new Set(load(localStorage, STORED.blocked, []));

export function saveBlocked() {
  save(localStorage, STORED.blocked, [...blocked]);
}

// ---- rooms ---------------------------------------------------------------------------------

/** A room's kind by its name: private rooms have reserved prefixes (protocol: "Private conversations"). */
export function kindOf(name) {
  if (name.startsWith("dm:")) return "dm";
  if (name.startsWith("pair:")) return "pair";
  return "public";
}

class Room {
  constructor(name) {
    this.name = name;
    this.kind = kindOf(name); // "public", "dm" (direct messages) or "pair" (a stranger chat)
    this.with = null; // the other person in a private room (a stranger's alias in a pair)
    this.you = null; // this user's alias in a stranger chat (protocol: find_partner's `you`)
    this.ended = false; // a stranger chat that is over: kept on screen, no longer joined
    this.topic = "";
    this.joined = false; // wanted: joined on every (re)connection
    this.ready = false; // joined on the current connection
    this.list = document.createElement("ol");
    this.list.className = "messages";
    this.byId = new Map(); // message id -> <li>
    this.messages = new Map(); // message id -> its newest Message object held (highest `rev`)
    this.rev = 0; // the highest room revision this page holds all changes up to (protocol: "Room revisions")
    this.replyTo = null; // the message the box answers: { id, user, text }, or null
    this.lastId = 0;
    this.firstId = 0;
    this.hasMore = false;
    this.loadingOlder = false;
    this.members = [];
    this.typing = new Map(); // user -> stale timer
    this.scrollTop = null; // null: pinned to the bottom
    this.newBelow = 0;
    this.draft = "";
    this.mutedUntil = null; // ms: this user's mute here ends then (protocol: `muted`, `muted_until`)
    this.muteTimer = 0; // reopens the box when the mute ends
    this.muteNewsAt = 0; // when the last `muted`/`unmuted` arrived: older acks do not undo it
  }
}

/** Room name -> Room: every room the page holds (joined, or being left or shown). */
export const rooms = new Map();
/** The room directory (protocol: `rooms`). */
export const directory = new Directory();
/** A direct-message room `join` said no to: not asked again on every `rooms` refresh. */
export const refusedDms = new Set();

/** What is on screen, and which part of the page the error line speaks for. */
export const state = {
  view: "room", // or "stranger": the "Talk to a stranger" view
  active: GENERAL,
  errorSource: null,
};

/** The room called `name`, made (not joined) if the page does not hold it yet. */
export function room(name) {
  let found = rooms.get(name);
  if (!found) {
    found = new Room(name);
    rooms.set(name, found);
  }
  return found;
}

export function activeRoom() {
  return state.active ? rooms.get(state.active) : undefined;
}

export function joinedRooms() {
  return [...rooms.values()].filter((r) => r.joined);
}

export function saveJoined() {
  save(
    localStorage,
    STORED.rooms,
    joinedRooms()
      .filter((r) => r.kind === "public")
      .map((r) => r.name),
  );
}

/** How this user appears in room `r`: their alias in a stranger chat, else their username. */
export function selfIn(r) {
  return r?.you ?? me;
}

/** The room to show when the one on screen goes away: a public one first. */
export function firstRoom() {
  return joinedRooms().find((r) => r.kind === "public")?.name ?? joinedRooms()[0]?.name ?? null;
}

/** How the page names a room: "#general", or the other person for a private one. */
export function place(name) {
  const r = rooms.get(name);
  const kind = r?.kind ?? kindOf(name);
  if (kind === "public") return `#${name}`;
  const other = r?.with ?? directory.find(name)?.with;
  if (kind === "dm") return other ?? "a direct message";
  return other ?? "a stranger";
}

/** The `rooms` requests: when the first page was last asked for, one at a time, retries. */
export const roomsFetch = { at: -Infinity, busy: false, firstAfter: false, soon: 0, retry: 0 };

// ---- the connection ------------------------------------------------------------------------

export const session = {
  epoch: 0, // one more on every connect: a slow catch-up knows a newer one started
  attempts: 0, // failed connects in a row
  signedOut: false,
  suspended: false, // an admin suspended the account: never connect again
  crowdedRetry: 0, // the timer of a tab refused as one too many
};

// ---- the outbox ----------------------------------------------------------------------------

// Each message keeps its client_id until acknowledged: a retry of a message the server already
// stored is answered with the original (protocol: `message`), so nothing is posted twice.
export const outbox = load(sessionStorage, STORED.outbox, []).map((item) => ({ ...item, state: "queued" }));

export function saveOutbox() {
  save(
    sessionStorage,
    STORED.outbox,
    outbox.map(({ client_id, room: name, text, createdAt, reply }) => ({ client_id, room: name, text, createdAt, reply })),
  );
}

/** Sending the outbox: one at a time, and not before a `rate_limited` allows. */
export const sending = { pumping: false, pausedUntil: 0, retryTimer: 0 };

// ---- the stranger chat (protocol: `find_partner`): idle -> waiting -> paired -> ended (or idle)

export const stranger = { status: "idle", room: null, partner: null, you: null, note: "", retry: 0 };

export function saveStranger() {
  const { status, room: name, partner, you } = stranger;
  const kept = status === "waiting" || status === "paired" ? { status, room: name, partner, you } : null;
  save(sessionStorage, STORED.stranger, kept);
}

// ---- typing signals of this user -----------------------------------------------------------

export const typing = {
  // The server's typing budget (TYPING_RATE, TYPING_BURST), with a margin: the network can
  // bunch signals up on the way, and a refused one is a flood strike.
  budget: new TokenBucket(
    0.8 * (Number(layout.dataset.typingRate) || 5),
    Math.max(1, Math.floor(0.8 * (Number(layout.dataset.typingBurst) || 10))),
  ),
  active: false, // a key was pressed in the last TYPING_IDLE_MS
  in: null, // the room a `true` went to, with no `false` since
  lastTrueAt: -Infinity,
  idle: 0,
  later: 0, // a `true` held back by the 2 s rule or the budget, sent when allowed
  pendingFalse: null, // a `false` waiting for a token
  pendingFalseTimer: 0,
};
