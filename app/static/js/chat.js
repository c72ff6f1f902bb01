// The chat page: talks protocol v1 (docs/protocol.md) to the server over Socket.IO.
import { io } from "../vendor/socket.io/socket.io.esm.min.js";

const $ = (id) => document.getElementById(id);
const me = document.querySelector(".layout").dataset.username;
const socket = io({ transports: ["websocket", "polling"] });

const state = {
  room: "general",
  joined: new Set(),
  lastId: new Map(), // room -> highest message id shown
  seen: new Set(), // "room:id" already on screen
  typing: new Map(), // user -> timer
  members: new Set(),
};

function ask(event, payload) {
  return new Promise((resolve) => {
    socket.timeout(10000).emit(event, payload, (err, ack) => {
      resolve(err ? { ok: false, error: { code: "timeout", message: "The server did not answer." } } : ack);
    });
  });
}

function showError(error) {
  const box = $("error");
  if (!error) { box.hidden = true; return; }
  box.textContent = error.code === "rate_limited"
    ? `You are sending too fast, try again in ${Math.ceil(error.retry_after)} s.`
    : error.message;
  box.hidden = false;
}

function linkify(text, into) {
  // Text nodes and <a> only: user text never becomes HTML.
  const pattern = /\bhttps?:\/\/[^\s<>"]+/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    into.append(document.createTextNode(text.slice(last, match.index)));
    const a = document.createElement("a");
    a.href = match[0];
    a.textContent = match[0];
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    into.append(a);
    last = match.index + match[0].length;
  }
  into.append(document.createTextNode(text.slice(last)));
}

function renderMessage(message) {
  const key = `${message.room}:${message.id}`;
  if (state.seen.has(key)) return;
  state.seen.add(key);
  state.lastId.set(message.room, Math.max(state.lastId.get(message.room) || 0, message.id));
  if (message.room !== state.room) return;
  const li = document.createElement("li");
  li.className = message.user === me ? "message mine" : "message";
  li.dataset.id = message.id;
  const meta = document.createElement("div");
  meta.className = "meta";
  const who = document.createElement("strong");
  who.textContent = message.user;
  const when = document.createElement("time");
  when.dateTime = message.ts;
  when.textContent = new Date(message.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(who, " ", when);
  const body = document.createElement("p");
  body.className = "text";
  linkify(message.text, body);
  li.append(meta, body);
  const list = $("messages");
  const next = [...list.children].find((el) => Number(el.dataset.id) > message.id);
  list.insertBefore(li, next || null);
  if (!next) list.scrollTop = list.scrollHeight;
}

function renderNotice(text) {
  const li = document.createElement("li");
  li.className = "notice";
  li.textContent = text;
  $("messages").append(li);
}

function renderMembers(members) {
  const list = $("members");
  list.replaceChildren(...members.map((name) => {
    const li = document.createElement("li");
    li.textContent = name;
    return li;
  }));
}

async function refreshRooms() {
  const ack = await ask("rooms", {});
  if (!ack.ok) return showError(ack.error);
  $("rooms").replaceChildren(...ack.rooms.map((room) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `#${room.name}`;
    button.addEventListener("click", () => join(room.name));
    if (room.name === state.room) button.setAttribute("aria-current", "true");
    const online = document.createElement("span");
    online.className = "online";
    online.textContent = `${room.online} online`;
    li.append(button, online);
    return li;
  }));
}

async function join(room) {
  const since = state.lastId.get(room);
  const ack = await ask("join", since ? { room, since } : { room });
  if (!ack.ok) return showError(ack.error);
  showError(null);
  if (state.room !== room) {
    state.room = room;
    $("messages").replaceChildren();
    for (const key of [...state.seen]) if (key.startsWith(`${room}:`)) state.seen.delete(key);
    if (!since) state.lastId.delete(room);
  }
  state.joined.add(room);
  $("room-name").textContent = `#${ack.room.name}`;
  $("room-topic").textContent = ack.room.topic;
  state.members = new Set(ack.members);
  renderMembers(ack.members);
  ack.messages.forEach(renderMessage);
  refreshRooms();
}

socket.on("connect", () => {
  $("connection").textContent = "Connected";
  $("connection").dataset.state = "connected";
  for (const room of state.joined) if (room !== state.room) ask("join", { room, since: state.lastId.get(room) || 0 });
  join(state.room);
});
socket.on("disconnect", () => {
  $("connection").textContent = "Reconnecting…";
  $("connection").dataset.state = "reconnecting";
});
socket.on("connect_error", (err) => {
  $("connection").textContent = err.message === "unauthorized" ? "Signed out" : "Offline";
  $("connection").dataset.state = "offline";
});
socket.on("message", renderMessage);
socket.on("presence", ({ room, user, status }) => {
  if (room !== state.room) return;
  renderNotice(`${user} ${status === "joined" ? "joined" : "left"}`);
  if (status === "joined") state.members.add(user);
  else state.members.delete(user);
  renderMembers([...state.members].sort());
  refreshRooms();
});
socket.on("typing", ({ room, user, typing }) => {
  if (room !== state.room) return;
  clearTimeout(state.typing.get(user));
  if (typing) state.typing.set(user, setTimeout(() => { state.typing.delete(user); showTyping(); }, 5000));
  else state.typing.delete(user);
  showTyping();
});

function showTyping() {
  const names = [...state.typing.keys()];
  $("typing").textContent = names.length === 0 ? "" :
    names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

let typingSentAt = 0;
$("text").addEventListener("input", () => {
  const now = Date.now();
  if (now - typingSentAt > 2000) { typingSentAt = now; socket.emit("typing", { room: state.room, typing: true }); }
});
$("text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("send-form").requestSubmit(); }
});
$("send-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  const client_id = crypto.randomUUID();
  $("text").value = "";
  typingSentAt = 0;
  socket.emit("typing", { room: state.room, typing: false });
  const ack = await ask("message", { room: state.room, text, client_id });
  if (!ack.ok) { $("text").value = text; return showError(ack.error); }
  showError(null);
  renderMessage(ack.message);
});
$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  join($("join-name").value.trim().toLowerCase());
  $("join-name").value = "";
});
$("leave").addEventListener("click", async () => {
  const ack = await ask("leave", { room: state.room });
  if (!ack.ok) return showError(ack.error);
  state.joined.delete(state.room);
  join("general");
});
