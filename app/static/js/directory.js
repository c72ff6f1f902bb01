// The room directory as the page knows it (protocol: `rooms`, paged): the first page, the
// pages fetched since with "Show more rooms", and rooms the page added itself.

function entryList(ack) {
  return Array.isArray(ack?.rooms) ? ack.rooms.filter((entry) => typeof entry?.name === "string") : [];
}

function cursor(ack) {
  // A server without paging answers with every room and no `next`: nothing more to fetch.
  return typeof ack?.next === "string" && ack.next ? ack.next : null;
}

export class Directory {
  constructor() {
    this.first = []; // the first page: public rooms, then the user's direct-message rooms
    this.later = []; // public rooms from "Show more rooms"
    this.local = []; // rooms the page put here itself (one just left), until the next refresh
    this.next = null; // `after` for the next page, or null when there is none
  }

  /** Every known entry, once each, in the server's order. */
  entries() {
    const seen = new Set();
    return [...this.first, ...this.later, ...this.local].filter((entry) => {
      if (seen.has(entry.name)) return false;
      seen.add(entry.name);
      return true;
    });
  }

  find(name) {
    return this.entries().find((entry) => entry.name === name);
  }

  /** A fresh first page replaces the old one; pages fetched with "more" stay (and their cursor). */
  applyFirst(ack) {
    const next = cursor(ack);
    this.first = entryList(ack);
    this.local = [];
    if (next === null) this.later = [];
    if (next === null || this.later.length === 0) this.next = next;
  }

  /** The page after the last one: its public rooms are added after the ones shown. */
  applyMore(ack) {
    const known = new Set(this.entries().map((entry) => entry.name));
    this.later.push(...entryList(ack).filter((entry) => entry.kind !== "dm" && !known.has(entry.name)));
    this.next = cursor(ack);
  }

  /** Show `entry` until the next refresh, unless the server's list has it already. */
  remember(entry) {
    if (!this.find(entry.name)) this.local.push(entry);
  }
}
