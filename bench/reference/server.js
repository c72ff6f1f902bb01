// The Node reference for the benchmark: a minimal socket.io 4.8.1 server speaking the
// same events as our chat server (`join`, `message` with an ack and a room broadcast), with no
// storage and no authentication. It is the peer a user would pick instead of this project.
//
//   node bench/reference/server.js --port 39011
//
// Listens on 127.0.0.1 only and prints "listening" on stdout when ready. Exits on SIGTERM/SIGINT,
// and by itself when its parent process goes away (so an interrupted benchmark leaves nothing behind).
import { createServer } from "node:http";
import { Server } from "socket.io";

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf("=");
    if (eq > 0) out[arg.slice(2, eq)] = arg.slice(eq + 1);
    else out[arg.slice(2)] = argv[++i];
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write("usage: node bench/reference/server.js --port PORT\n");
  process.exit(2);
}

const httpServer = createServer((req, res) => {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found\n");
});

const io = new Server(httpServer, {
  transports: ["websocket", "polling"],
  maxHttpBufferSize: 65536,
  // pingInterval / pingTimeout: socket.io defaults (25 s / 20 s); no CORS, no compression.
});

const counters = new Map(); // room name -> last message id

io.on("connection", (socket) => {
  // Any connection is accepted: socket.handshake.auth.token is ignored.
  socket.on("join", (data, ack) => {
    const room = data && typeof data.room === "string" ? data.room : null;
    if (room === null) {
      if (typeof ack === "function") ack({ ok: false, error: { code: "invalid", message: "room" } });
      return;
    }
    socket.join(room);
    if (typeof ack === "function") {
      ack({ ok: true, room: { name: room, topic: "" }, members: [], messages: [], has_more: false });
    }
  });

  socket.on("message", (data, ack) => {
    const room = data && typeof data.room === "string" ? data.room : null;
    if (room === null || typeof data.text !== "string") {
      if (typeof ack === "function") ack({ ok: false, error: { code: "invalid", message: "room, text" } });
      return;
    }
    if (!socket.rooms.has(room)) {
      if (typeof ack === "function") ack({ ok: false, error: { code: "not_in_room", message: "join first" } });
      return;
    }
    const id = (counters.get(room) || 0) + 1;
    counters.set(room, id);
    const msg = {
      id,
      room,
      user: "bench",
      text: data.text,
      ts: new Date().toISOString(),
      client_id: data.client_id ?? null,
    };
    io.to(room).emit("message", msg); // the sender's own connection included, as our server does
    if (typeof ack === "function") ack({ ok: true, message: msg });
  });
});

function shutdown() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

// Exit when the process that started us is gone (we were re-parented).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();

httpServer.on("error", (err) => {
  process.stderr.write(`reference server: ${err.message}\n`);
  process.exit(1);
});
httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write("listening\n");
});
