// The chat page's entry point: every socket event in one table, the controls bound, the start.
// The page speaks protocol v1 (docs/protocol.md) to the server over Socket.IO.
import { bindActions } from "./actions.js";
import { bindComposer } from "./composer.js";
import {
  accountSuspended,
  bindNetwork,
  connectError,
  connectionLost,
  connectionUp,
  socket,
} from "./connection.js";
import { GENERAL, STORED } from "./constants.js";
import { bindErrors } from "./errors.js";
import { bindLayout, show } from "./layout.js";
import { clearTyping, presenceChanged, renderTyping, typingChanged } from "./members.js";
import { bindMessages, messageReceived, messageUpdated, renderNotifyButton } from "./messages.js";
import { bindModeration, kicked, muted, roomUpdated, unmuted } from "./moderation.js";
import { bindOutbox, pump, showPending } from "./outbox.js";
import { askForPartner, bindPrivate, dmOpened, partnerFound, partnerLeft } from "./private.js";
import { bindRooms, fetchRooms, joinRoom } from "./rooms.js";
import { bindSanctions } from "./sanctions.js";
import {
  activeRoom,
  firstRoom,
  joinedRooms,
  kindOf,
  load,
  outbox,
  readMarks,
  room,
  rooms,
  saveOutbox,
  session,
  state,
  stranger,
} from "./state.js";
import { roomName } from "./text.js";

// Connected (again): join every room wanted, catching up on what was missed, then the rest.
async function connected() {
  connectionUp();
  const epoch = ++session.epoch;
  await Promise.all(joinedRooms().map((r) => joinRoom(r.name)));
  if (epoch !== session.epoch || !socket.connected) return;
  if (state.view === "room" && !activeRoom()?.joined) show(firstRoom());
  // A dropped connection leaves the queue (protocol: `leave_partner`): queue again.
  if (stranger.status === "waiting") askForPartner();
  fetchRooms();
  pump();
}

// Disconnected: no room is joined on a connection that is gone, and nobody is typing there.
function disconnected(reason) {
  for (const r of rooms.values()) {
    r.ready = false;
    clearTyping(r);
  }
  renderTyping();
  connectionLost(reason);
}

// ---- socket events: everything the server sends, and the connection's own events -----------

const handlers = {
  connect: connected,
  disconnect: disconnected,
  connect_error: connectError,
  message: messageReceived,
  message_updated: messageUpdated,
  presence: presenceChanged,
  typing: typingChanged,
  dm_opened: dmOpened,
  partner_found: partnerFound,
  partner_left: partnerLeft,
  account_suspended: accountSuspended,
  room_updated: roomUpdated,
  kicked,
  muted,
  unmuted,
};
for (const [event, handler] of Object.entries(handlers)) socket.on(event, handler);

// ---- the page's own controls ---------------------------------------------------------------

bindNetwork();
bindRooms();
bindMessages();
bindActions();
bindComposer();
bindOutbox();
bindErrors();
bindPrivate();
bindLayout();
bindModeration();
bindSanctions();

// ---- start: the rooms, stranger chat and unsent messages kept from before, then connect ----

for (const name of new Set([GENERAL, ...load(localStorage, STORED.rooms, [])])) {
  if (roomName(name) === name) room(name).joined = true;
}
// A reload in the middle of a stranger chat: join it again within the grace period.
const saved = load(sessionStorage, STORED.stranger, null);
if (saved?.status === "waiting") stranger.status = "waiting";
if (saved?.status === "paired" && kindOf(String(saved.room)) === "pair" && typeof saved.partner === "string") {
  const you = typeof saved.you === "string" ? saved.you : null;
  Object.assign(stranger, { status: "paired", room: saved.room, partner: saved.partner, you });
  const r = room(saved.room);
  r.with = saved.partner;
  r.you = you;
  r.joined = true;
}
for (const name of Object.keys(readMarks)) {
  if (kindOf(name) === "pair" && name !== stranger.room) delete readMarks[name];
}
for (const item of [...outbox]) {
  if (kindOf(item.room) === "pair" && item.room !== stranger.room) {
    outbox.splice(outbox.indexOf(item), 1);
    continue;
  }
  room(item.room).joined = true;
  showPending(item);
}
saveOutbox();
renderNotifyButton();
show(GENERAL);
socket.connect();
