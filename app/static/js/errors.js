// The error line above the message box: one message at a time, cleared by the part that set it.
import { $, nodes } from "./dom.js";
import { state } from "./state.js";

/**
 * Show `text` (a string or words`...`, and an optional link or button) for `source`, replacing
 * any earlier error.
 */
export function showError(text, source, extra) {
  state.errorSource = source;
  $("error-text").replaceChildren(...nodes(text), ...(extra ? [extra] : []));
  $("error").hidden = false;
}

/** Hide the error line: any error, or only one that `source` set. */
export function clearError(source) {
  if (source && state.errorSource !== source) return;
  state.errorSource = null;
  $("error").hidden = true;
}

export function bindErrors() {
  $("error-close").addEventListener("click", () => clearError());
}
