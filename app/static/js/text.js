// Pure helpers for the chat page: lengths as the server counts, local times, errors in plain words.

const PUBLIC_ROOM = /^[a-z0-9_-]{1,64}$/;

// What Python's str.isspace() calls whitespace: the server trims a message with str.strip().
const EDGE_SPACE =
  /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** `text` trimmed exactly as the server trims a message (protocol: "Lengths"). */
export function serverTrim(text) {
  return text.replace(EDGE_SPACE, "");
}

/** How long the server counts `text`: Unicode code points after trimming (an emoji is 1). */
export function serverLength(text) {
  let length = 0;
  for (const _ of serverTrim(text)) length += 1;
  return length;
}

/** 4100 as "4,100": the page speaks English. */
export function number(value) {
  return value.toLocaleString("en");
}

/** "14:05" today, "3 Nov, 14:05" earlier this year, with the year before that; local time. */
export function shortTime(date, now = new Date()) {
  const options = { hour: "numeric", minute: "2-digit" };
  if (date.toDateString() !== now.toDateString()) {
    options.month = "short";
    options.day = "numeric";
    if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  }
  return date.toLocaleString([], options);
}

export function fullTime(date) {
  return date.toLocaleString([], { dateStyle: "full", timeStyle: "short" });
}

/** A room name as typed ("#Team-42 ") in protocol form ("team-42"), or null if it can't be one. */
export function roomName(typed) {
  const name = typed.trim().replace(/^#/, "").toLowerCase();
  return PUBLIC_ROOM.test(name) ? name : null;
}

/** A UUID v4; crypto.randomUUID exists only on https and localhost pages. */
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function seconds(value) {
  return Math.max(1, Math.ceil(Number(value) || 1));
}

// What is done to a message already sent (protocol: `edit`, `delete`, `react`).
const MESSAGE_ACTIONS = ["edit", "delete", "react"];

/**
 * An error ack (docs/protocol.md) in words a person understands. `action` is what failed
 * ("send", "join", "edit", "delete", "react", ...),
 * `where` names the room or person as the page shows it ("#general", "bob"), and `kind` is
 * the room's kind: "public", "dm" or "pair" (a stranger chat).
 */
export function explain(error, action, where, kind = "public") {
  const place = where ?? "that room";
  switch (error?.code) {
    case "rate_limited":
      return action === "send"
        ? `You are sending too fast, trying again in ${seconds(error.retry_after)} s.`
        : `Too many requests, try again in ${seconds(error.retry_after)} s.`;
    case "too_large":
      return "That message is too long: the limit is 4000 characters.";
    case "invalid":
      if (action === "join") return "Room names are 1-64 lowercase letters, digits, '-' or '_'.";
      if (action === "send") return "That message can't be sent: it is empty or has characters that are not allowed.";
      if (action === "dm") return "You can't send a direct message to yourself.";
      if (action === "block") return "You can't block yourself.";
      if (action === "report") return "That report can't be sent: say why, in at most 1000 characters.";
      if (action === "edit") return "That text can't be saved: it has characters that are not allowed.";
      if (action === "react") {
        return "That reaction can't be added: use one emoji (a message has at most 20 different ones).";
      }
      return "The server did not understand that request.";
    case "forbidden":
      if (action === "edit" && !error.message) return "You can only edit your own messages.";
      if (action === "delete" && !error.message) return "You can't delete that message.";
      if (action === "dm") return `You can't message ${place}: one of you has blocked the other.`;
      if (kind === "dm" && action === "send") {
        return `You can't send messages to ${place}: one of you has blocked the other.`;
      }
      if (kind === "pair") return "This chat has ended. Press Start to talk to someone new.";
      // in a public room: banned, muted, or a role too low; the server's sentence says which
      if (kind === "public" && error.message) return error.message;
      return `${place} is a private room.`;
    case "not_found":
      if (MESSAGE_ACTIONS.includes(action)) return "That message has been deleted.";
      if (action === "dm" || action === "block") return `There is no user named ${place}.`;
      if (action === "report") return "That message or person is no longer there to report.";
      return `There is no room named ${place}.`;
    case "not_in_room":
      if (MESSAGE_ACTIONS.includes(action)) return `You are not in ${place} at the moment: wait for the connection.`;
      return `You are not in ${place} any more: join it again to send.`;
    case "unauthorized":
      return "Your session has ended. Please sign in again.";
    case "internal":
      return action === "send"
        ? "The server had a problem and did not store the message; trying again shortly."
        : "The server had a problem; please try again.";
    case "timeout":
      return "The server is not answering; trying again.";
    case "offline":
      return "You are offline; this will work again when the connection returns.";
    default:
      return "Something went wrong; please try again.";
  }
}

/** Names in the order people expect: case does not matter ("bob" between "Anna" and "Carl"). */
export function sortNames(names) {
  return [...names].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
}
