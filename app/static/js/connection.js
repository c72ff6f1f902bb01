// The socket to the server: requests with acks and timeouts, the connection line, reconnects.
import { io } from "../vendor/socket.io/socket.io.esm.min.js";
import { renderComposer } from "./composer.js";
import { ACK_TIMEOUT_MS, CROWDED_RETRY_MS, OFFLINE_AFTER_ATTEMPTS, RETRY_MS } from "./constants.js";
import { $, layout } from "./dom.js";
import { clearError, showError } from "./errors.js";
import { renderPendingStatus } from "./outbox.js";
import { outbox, session } from "./state.js";
import { seconds } from "./text.js";

// WebSocket first; long-polling when a proxy on the way refuses WebSockets, unless the server
// allows WebSocket only (SOCKETIO_TRANSPORTS: several workers on one port need that).
const allowed = layout.dataset.transports.split(",");
export const socket = io({
  transports: ["websocket", "polling"].filter((transport) => allowed.includes(transport)),
  tryAllTransports: true,
  autoConnect: false,
});

/**
 * Send `event` and resolve with its ack; never rejects. Without an answer the ack is an error
 * of the page's own: `offline` (not connected), `timeout` (no ack in time) or `internal`.
 */
export function ask(event, payload) {
  if (!socket.connected) return Promise.resolve({ ok: false, error: { code: "offline" } });
  return new Promise((resolve) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
      if (err) return resolve({ ok: false, error: { code: "timeout" } });
      if (!ack || typeof ack !== "object") return resolve({ ok: false, error: { code: "internal" } });
      if (ack.ok === false && ack.error?.code === "unauthorized") signedOut();
      resolve(ack);
    });
  });
}

/** How long to wait before asking again after a RETRYABLE `error`: a `rate_limited` says. */
export function retryDelay(error) {
  return error?.code === "rate_limited" ? seconds(error.retry_after) * 1000 : RETRY_MS;
}

/** The connection line: `kind` is connected, reconnecting or offline. */
function setConnection(kind, text) {
  $("connection").dataset.state = kind;
  $("connection-text").textContent = text;
  document.body.dataset.connection = kind;
  renderComposer();
  for (const item of outbox) renderPendingStatus(item);
}

function showConnectionLost() {
  if (session.signedOut) return;
  if (!navigator.onLine || session.attempts >= OFFLINE_AFTER_ATTEMPTS) setConnection("offline", "Offline");
  else setConnection("reconnecting", "Reconnecting…");
}

function signedOut() {
  if (session.signedOut) return;
  session.signedOut = true;
  socket.disconnect();
  setConnection("offline", "Signed out");
  const link = document.createElement("a");
  link.href = layout.dataset.loginUrl;
  link.textContent = "Sign in again";
  showError("Your session has ended. ", "session", link);
}

/**
 * `account_suspended` (or a connect refused with `suspended`): an admin suspended this account.
 * The server closes the connection; the page says why and never connects again by itself.
 */
export function accountSuspended() {
  if (session.suspended) return;
  session.suspended = true;
  session.signedOut = true;
  socket.disconnect();
  setConnection("offline", "Suspended");
  showError("Your account has been suspended.", "session");
}

/** The socket connected: the line says so (joining the rooms again is the caller's). */
export function connectionUp() {
  session.attempts = 0;
  setConnection("connected", "Connected");
  clearError("crowded");
}

/** The socket disconnected for `reason`: say so, and connect again if socket.io will not. */
export function connectionLost(reason) {
  if (reason === "io client disconnect" || session.signedOut) return;
  showConnectionLost();
  // The server closed this connection on purpose: socket.io does not retry that by itself.
  if (reason === "io server disconnect") setTimeout(() => socket.connect(), RETRY_MS);
}

/** `connect_error`: signed out, one tab too many, or a failed attempt (socket.io retries). */
export function connectError(err) {
  if (err.message === "unauthorized") return signedOut();
  if (err.message === "suspended") return accountSuspended();
  if (err.message === "too_many_connections") return tooManyConnections();
  session.attempts += 1;
  showConnectionLost();
}

// The server refused this tab: the user already has MAX_CONNECTIONS_PER_USER connections
// (protocol "Connecting"). socket.io does not retry a refused connect by itself.
function tooManyConnections() {
  setConnection("offline", "Too many tabs");
  const again = document.createElement("button");
  again.type = "button";
  again.className = "link";
  again.textContent = "Try again now";
  again.addEventListener("click", () => connectAgain());
  showError(
    "You have too many chat tabs or devices connected at once. Close one; this tab tries again in a minute. ",
    "crowded",
    again,
  );
  clearTimeout(session.crowdedRetry);
  session.crowdedRetry = setTimeout(connectAgain, CROWDED_RETRY_MS);
}

function connectAgain() {
  clearTimeout(session.crowdedRetry);
  if (socket.connected || session.signedOut) return;
  setConnection("reconnecting", "Reconnecting…");
  socket.connect();
}

/** The browser's own offline and online events. */
export function bindNetwork() {
  window.addEventListener("offline", showConnectionLost);
  window.addEventListener("online", () => {
    if (socket.connected || session.signedOut) return;
    setConnection("reconnecting", "Reconnecting…");
    // Skip the rest of socket.io's back-off: the network is back now.
    socket.disconnect();
    socket.connect();
  });
}
