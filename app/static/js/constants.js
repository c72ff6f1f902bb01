// Shared constants of the page: protocol limits, timings, error codes and storage keys.

export const GENERAL = "general";

// ---- the protocol (docs/protocol.md) ----

export const ACK_TIMEOUT_MS = 10_000;
export const TYPING_REFRESH_MS = 2_000; // `typing: true` at most every 2 s
export const TYPING_STALE_MS = 5_000; // an indicator is stale after about 5 s
export const TEXT_LIMIT = 4000; // `too_large` over 4000 characters, counted as "Lengths" says
export const ROOMS_PAGE = 50;
export const HISTORY_PAGE = 50;

// ---- the page's own timings and sizes ----

export const TYPING_IDLE_MS = 3_000;
export const GROUP_GAP_MS = 5 * 60_000;
// The first page of `rooms` is fetched again at most this often, and only while the page is
// visible (online counts of rooms we are not in have no event). window.chatRoomsRefreshMs: tests.
export const ROOMS_REFRESH_MS = Number(window.chatRoomsRefreshMs) || 60_000;
export const RETRY_MS = 3_000;
export const CROWDED_RETRY_MS = 60_000; // a tab refused as one too many tries again this much later
export const PINNED_PX = 48;
export const NEAR_TOP_PX = 150;
export const CATCH_UP_PAGES = 20;
export const OFFLINE_AFTER_ATTEMPTS = 4;
export const COUNT_FROM = 3500; // the character count shows from here on

// ---- error codes (docs/protocol.md, "Errors") ----

// Worth asking again later: after RETRY_MS, or for `rate_limited` never before its `retry_after`.
export const RETRYABLE = ["timeout", "internal", "rate_limited"];
// Not reported in the error line: asked again after the reconnect, or "Signed out" says it.
export const UNREPORTED = ["offline", "unauthorized"];
// A `join` refused for good: the room is not there for this user, so the page forgets it.
export const UNJOINABLE = ["invalid", "forbidden", "not_found"];
// Sending the same text again cannot fix these: the text has to change (Edit).
export const NEEDS_EDIT = ["too_large", "invalid"];

// ---- storage keys (state.js prefixes them with the user: `chat:<user>:<key>`) ----

export const STORED = {
  read: "read", // localStorage: the newest message read, per room
  blocked: "blocked", // localStorage: whom this user blocked (labels only)
  rooms: "rooms", // localStorage: the public rooms joined
  outbox: "outbox", // sessionStorage: messages not acknowledged yet, per tab
  stranger: "stranger", // sessionStorage: a stranger chat being waited for or had
};
