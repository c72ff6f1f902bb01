// The benchmark's load generator: many socket.io-client 4.8.1 connections in one Node
// process, so the generator is not the bottleneck. Three modes:
//
//   node bench/loadgen.js fanout --url http://127.0.0.1:P --tokens FILE --clients 1000 \
//        --room-size 50 --rates 1,2,4,8 --warmup 3 --duration 8 [--server-pid PID]
//   node bench/loadgen.js fanout ... --ladder 2,4,6,8 --start 4 --repeats 3 [--generator-limit 80]
//        [--latency-deliveries 10000 --latency-warmup 3 --latency-duration 8]
//        (the benchmark's plan: three repeats on one set of clients, then the latency step)
//   node bench/loadgen.js latency --url ... --clients 1000 --room-size 50 --deliveries 10000 \
//        --warmup 3 --duration 10 [--server-pid PID]
//   node bench/loadgen.js connections --url ... --count 10000 --batch 500 [--server-pid PID]
//
// stdout carries exactly one JSON object per line and nothing else (logs go to stderr). Every mode
// stops itself: a hard time cap ends the process with exit code 3 if anything hangs.
// Exit codes: 0 done, 1 setup failed (connect/join), 2 bad arguments, 3 time cap hit.
//
// Latency: a sender puts its send time (ms, performance.timeOrigin + performance.now()) in the
// message text; every member of the room, the sender included, subtracts it from its receive time
// (same process, same clock).
import { readFileSync, writeSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const TIME_ORIGIN = performance.timeOrigin;
const nowMs = () => TIME_ORIGIN + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text) => process.stderr.write(`loadgen: ${text}\n`);
const emit = (obj) => writeSync(1, `${JSON.stringify(obj)}\n`); // synchronous: never lost on exit
const round = (x, digits = 3) => (x == null || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));

const DRAIN_MS = 2000; // late deliveries count for their step if they arrive within this
const CONNECT_TIMEOUT_MS = 10000; // per connection attempt
const SETUP_CAP_MS = 120000; // connecting + joining all clients (fan-out, latency)

// ---------------------------------------------------------------------------------------------
// Arguments

function usage(message) {
  if (message) log(message);
  process.stderr.write(
    "usage: node bench/loadgen.js fanout|latency|connections --url http://127.0.0.1:PORT\n" +
      "  [--tokens FILE] [--server-pid PID]\n" +
      "  fanout:      --clients 1000 --room-size 50 --rates 1,2,4,8 --warmup 3 --duration 8\n" +
      "               or --ladder 2,4,8 --start 4 --repeats 3 [--generator-limit 80]\n" +
      "               [--latency-deliveries 10000 --latency-warmup 3 --latency-duration 8]\n" +
      "  latency:     --clients 1000 --room-size 50 --deliveries 10000 --warmup 3 --duration 10\n" +
      "  connections: --count 10000 --batch 500\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const mode = argv[0];
  const opts = {};
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) usage(`unexpected argument: ${arg}`);
    const eq = arg.indexOf("=");
    if (eq > 0) opts[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (i + 1 < argv.length) opts[arg.slice(2)] = argv[++i];
    else usage(`missing value for ${arg}`);
  }
  return { mode, opts };
}

function num(opts, name, fallback, { integer = false, min = 0 } = {}) {
  const raw = opts[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    usage(`--${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${raw}`);
  }
  return value;
}

function loadTokens(path) {
  if (!path) return ["bench"];
  let tokens;
  try {
    tokens = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    usage(`cannot read --tokens ${path}: ${err.message}`);
  }
  if (!Array.isArray(tokens) || tokens.length === 0 || tokens.some((t) => typeof t !== "string")) {
    usage(`--tokens ${path} must hold a non-empty JSON array of strings`);
  }
  return tokens;
}

function checkUrl(url) {
  if (!url) usage("--url is required");
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    usage(`bad --url ${url}`);
  }
  if (parsed.hostname !== "127.0.0.1" && parsed.hostname !== "localhost") {
    usage(`--url must point at 127.0.0.1 (the benchmark is local only), got ${parsed.hostname}`);
  }
  return url;
}

// ---------------------------------------------------------------------------------------------
// The server's CPU and RSS, from /proc

function procCpuTicks(pid) {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after "(comm)": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

function procRssKb(pid) {
  if (!pid) return null;
  try {
    const match = /VmRSS:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

const CLOCK_TICKS_PER_S = 100;

// ---------------------------------------------------------------------------------------------
// Connections

function socketOptions(token) {
  return {
    transports: ["websocket"],
    auth: { token },
    forceNew: true, // one engine.io connection per client, never multiplexed
    reconnection: false, // a dropped client shows up as missing deliveries, not as a retry storm
    timeout: CONNECT_TIMEOUT_MS,
    // Same framing for every server: no permessage-deflate (the Node reference never enables it;
    // simple-websocket would accept the client's offer and compress each frame).
    perMessageDeflate: false,
  };
}

// Resolves to the connected socket, or to an Error (never rejects).
function connectOne(url, token) {
  return new Promise((resolve) => {
    const socket = io(url, socketOptions(token));
    const onConnect = () => {
      socket.off("connect_error", onError);
      resolve(socket);
    };
    const onError = (err) => {
      socket.off("connect", onConnect);
      socket.close();
      resolve(err instanceof Error ? err : new Error(String(err)));
    };
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
}

function joinRoom(socket, room) {
  return new Promise((resolve) => {
    socket.timeout(CONNECT_TIMEOUT_MS).emit("join", { room }, (err, res) => {
      if (err) resolve(new Error(`join ${room}: no ack (${err.message})`));
      else if (!res || res.ok !== true) resolve(new Error(`join ${room}: ${JSON.stringify(res)}`));
      else resolve(socket);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Fan-out and latency: one shared state, one shared `message` handler for every client.

const state = {
  collecting: false, // true from a measured window's start until its step is finalised
  step: 0, // the measured step whose messages are being counted (text.s)
  lat: new Float64Array(1 << 16),
  delivered: 0,
  badText: 0,
};

function onMessage(msg) {
  if (!state.collecting) return; // warm-up traffic and stragglers of earlier steps
  const now = nowMs();
  let body;
  try {
    body = JSON.parse(msg.text);
  } catch {
    state.badText++;
    return;
  }
  if (body.s !== state.step) return;
  let lat = state.lat;
  if (state.delivered === lat.length) {
    const bigger = new Float64Array(lat.length * 2);
    bigger.set(lat);
    state.lat = lat = bigger;
  }
  lat[state.delivered++] = now - body.t;
}

function percentiles(lat, n) {
  if (n === 0) return { p50: null, p99: null, max: null };
  const sorted = lat.subarray(0, n).sort(); // typed array: numeric, in place, once per window
  const rank = (p) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  return { p50: rank(0.5), p99: rank(0.99), max: sorted[n - 1] };
}

async function setupRooms(url, tokens, clients, roomSize) {
  const rooms = Math.ceil(clients / roomSize);
  const members = new Array(rooms).fill(0);
  const sockets = new Array(clients);
  const BATCH = 100;
  const started = performance.now();
  for (let first = 0; first < clients; first += BATCH) {
    const batch = [];
    for (let i = first; i < Math.min(clients, first + BATCH); i++) {
      const room = Math.floor(i / roomSize);
      batch.push(
        connectOne(url, tokens[i % tokens.length]).then((s) =>
          s instanceof Error ? new Error(`client ${i}: connect: ${s.message}`) : joinRoom(s, `bench-${room}`),
        ),
      );
    }
    const results = await Promise.all(batch);
    for (let k = 0; k < results.length; k++) {
      const i = first + k;
      if (results[k] instanceof Error) {
        log(`setup failed: ${results[k].message}`);
        return { error: results[k], sockets };
      }
      sockets[i] = results[k];
      members[Math.floor(i / roomSize)]++;
    }
  }
  log(`${clients} clients connected and joined ${rooms} rooms in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  let dropped = 0;
  const onDisconnect = (reason) => {
    if (reason !== "io client disconnect" && dropped++ < 5) log(`a client was disconnected: ${reason}`);
  };
  for (const socket of sockets) {
    socket.on("message", onMessage);
    socket.on("disconnect", onDisconnect);
  }
  return { sockets, members, rooms };
}

// One sender per room (its first client). Sends every 1000/rate ms on a schedule anchored at the
// step's start, catching up when a timer fires late; senders are phase-shifted across the period.
function makeSenders(sockets, roomSize, rooms, members) {
  const senders = [];
  for (let r = 0; r < rooms; r++) {
    const index = r * roomSize;
    senders.push({ socket: sockets[index], index, room: `bench-${r}`, members: members[r], n: 0, timer: null });
  }
  return senders;
}

function runStep(ctx, rate, stepNo, warmupS, durationS) {
  const { senders, serverPid } = ctx;
  const period = 1000 / rate;
  const w = {
    measuring: false,
    sent: 0,
    expected: 0,
    acksPending: 0,
    acksFailed: 0,
    countingAcks: false,
  };
  state.collecting = false;
  state.step = stepNo;
  state.delivered = 0;
  state.badText = 0;

  // Acks of this step's measured messages; acks arriving after the drain are ignored.
  const ackMeasured = (res) => {
    if (!w.countingAcks) return;
    w.acksPending--;
    if (!res || res.ok !== true) {
      if (w.acksFailed++ < 3) log(`step ${stepNo}: failed ack ${JSON.stringify(res)}`);
    }
  };
  const ackIgnored = () => {};

  const send = (sender) => {
    const t = nowMs();
    const measured = w.measuring;
    const text = `{"t":${t},"s":${measured ? stepNo : -1}}`; // = JSON.stringify({t, s})
    sender.socket.emit(
      "message",
      { room: sender.room, text, client_id: `${ctx.runTag}-${sender.index}-${++sender.n}` },
      measured ? ackMeasured : ackIgnored,
    );
    if (measured) {
      w.sent++;
      w.expected += sender.members;
      w.acksPending++;
    }
  };

  return new Promise((resolve) => {
    const start = performance.now();
    const n = senders.length;
    for (let k = 0; k < n; k++) {
      const sender = senders[k];
      const offset = (k * period) / n;
      let due = start + offset;
      let count = 0;
      const tick = () => {
        const now = performance.now();
        while (due <= now && sender.timer !== null) {
          send(sender);
          count++;
          due = start + offset + count * period;
        }
        if (sender.timer !== null) sender.timer = setTimeout(tick, Math.max(0, due - performance.now()));
      };
      sender.timer = setTimeout(tick, Math.max(0, due - performance.now()));
    }

    const stopSenders = () => {
      for (const sender of senders) {
        clearTimeout(sender.timer);
        sender.timer = null;
      }
    };

    let cpu0, ticks0, wall0;
    setTimeout(() => {
      // Measured window starts.
      w.measuring = true;
      w.countingAcks = true;
      state.collecting = true;
      wall0 = performance.now();
      cpu0 = process.cpuUsage();
      ticks0 = procCpuTicks(serverPid);
    }, warmupS * 1000);

    setTimeout(() => {
      // Measured window ends: stop sending, read the CPU figures, then let late deliveries land.
      w.measuring = false;
      stopSenders();
      const wallMs = performance.now() - wall0;
      const cpu = process.cpuUsage(cpu0);
      const ticks1 = procCpuTicks(serverPid);
      const rss = procRssKb(serverPid);
      const deadline = performance.now() + DRAIN_MS;
      const finish = () => {
        state.collecting = false;
        w.countingAcks = false;
        const delivered = state.delivered;
        if (state.badText) log(`step ${stepNo}: ${state.badText} messages whose text was not the generator's JSON`);
        const { p50, p99, max } = percentiles(state.lat, delivered);
        const acksFailed = w.acksFailed + w.acksPending; // no ack within the drain counts as failed
        const ratio = w.expected > 0 ? delivered / w.expected : 0;
        const result = {
          mode: ctx.mode,
          rate_per_sender: rate,
          senders: n,
          room_size: ctx.roomSize,
          clients: ctx.clients,
          sent: w.sent,
          expected: w.expected,
          delivered,
          delivery_ratio: round(ratio, 5),
          deliveries_per_s: round(delivered / (wallMs / 1000), 1),
          p50_ms: round(p50),
          p99_ms: round(p99),
          max_ms: round(max),
          acks_failed: acksFailed,
          server_cpu_pct:
            ticks0 == null || ticks1 == null
              ? null
              : round(((ticks1 - ticks0) / CLOCK_TICKS_PER_S / (wallMs / 1000)) * 100, 1),
          server_rss_kb: rss,
          generator_cpu_pct: round(((cpu.user + cpu.system) / 1000 / wallMs) * 100, 1),
          passed: w.expected > 0 && ratio >= 0.99 && p99 !== null && p99 <= 100 && acksFailed === 0,
        };
        resolve(result);
      };
      const poll = () => {
        if ((state.delivered >= w.expected && w.acksPending === 0) || performance.now() >= deadline) finish();
        else setTimeout(poll, 20);
      };
      poll();
    }, (warmupS + durationS) * 1000);
  });
}

function sizeLatencyBuffer(expected) {
  const want = Math.ceil(expected * 1.1) + 1024;
  if (state.lat.length < want) state.lat = new Float64Array(want);
}

// A step counts while it passed and the generator stayed under its CPU limit.
const counts = (res, generatorLimit) => res.passed && (res.generator_cpu_pct ?? 0) < generatorLimit;

// After a failed step the server may still be working through a backlog: wait (at most 10 s)
// until it uses under 20% of a core, so the next step starts from an idle server.
async function waitServerIdle(serverPid) {
  if (!serverPid) return sleep(2000);
  const deadline = performance.now() + 10000;
  let ticks = procCpuTicks(serverPid);
  while (performance.now() < deadline) {
    await sleep(500);
    const now = procCpuTicks(serverPid);
    if (now == null || ticks == null || ((now - ticks) / CLOCK_TICKS_PER_S / 0.5) * 100 < 20) return;
    ticks = now;
  }
}

// The fan-out plan (bench/README.md). Repeat 1 climbs fast: from --start, each next rate is the
// highest rung of the ladder at most twice the last one (and at most what the generator's spare
// CPU allows); after the first step that does not count it tries the rungs it skipped, upwards.
// Later repeats start at repeat 1's capacity and climb one rung at a time (a first step that
// fails walks down instead); they do not retry a rung where repeat 1 was generator-bound.
async function runPlan(ctx, plan, runStepAt) {
  const { ladder, repeats, startIndex, generatorLimit } = plan;
  let capacity = -1; // repeat 1's last counting rung (index into the ladder)
  let generatorBoundAt = Infinity; // repeat 1's rung where the generator ran out
  for (let repeat = 1; repeat <= repeats; repeat++) {
    const tried = new Map(); // rung index -> counted
    const step = async (i) => {
      const res = await runStepAt(ladder[i], repeat);
      const ok = counts(res, generatorLimit);
      tried.set(i, ok);
      if (!ok && repeat === 1 && (res.generator_cpu_pct ?? 0) >= generatorLimit) {
        generatorBoundAt = Math.min(generatorBoundAt, i);
      }
      if (!ok) await waitServerIdle(ctx.serverPid);
      return { res, ok };
    };
    if (repeat === 1) {
      let i = startIndex;
      let last = -1;
      for (;;) {
        const { res, ok } = await step(i);
        if (!ok) break;
        last = i;
        const gen = Math.max(res.generator_cpu_pct ?? 0, 1);
        const reach = Math.min(2 * ladder[i], (ladder[i] * generatorLimit) / gen);
        let next = i + 1;
        while (next + 1 < ladder.length && ladder[next + 1] <= reach) next++;
        if (next >= ladder.length) break;
        i = next;
      }
      const stop = [...tried.keys()].find((k) => !tried.get(k));
      if (last < 0 && startIndex > 0) {
        for (let k = startIndex - 1; k >= 0 && last < 0; k--) if ((await step(k)).ok) last = k;
      } else if (stop !== undefined) {
        for (let k = last + 1; k < stop; k++) {
          if (!(await step(k)).ok) break;
          last = k;
        }
      }
      capacity = last;
    } else {
      let i = Math.max(capacity, 0);
      let climbed = false;
      for (;;) {
        const { ok } = await step(i);
        if (ok) {
          climbed = true;
          // after walking down, the rung above has already failed in this repeat
          if (i + 1 >= ladder.length || i + 1 >= generatorBoundAt || tried.has(i + 1)) break;
          i++;
        } else if (!climbed && i > 0 && !tried.has(i - 1)) {
          i--;
        } else break;
      }
    }
  }
}

async function runLoad(mode, opts) {
  const url = checkUrl(opts.url);
  const tokens = loadTokens(opts.tokens);
  const clients = num(opts, "clients", 1000, { integer: true, min: 1 });
  const roomSize = num(opts, "room-size", 50, { integer: true, min: 1 });
  const warmupS = num(opts, "warmup", 3);
  const durationS = num(opts, "duration", mode === "latency" ? 10 : 8, { min: 0.1 });
  const serverPid = opts["server-pid"] ? num(opts, "server-pid", 0, { integer: true, min: 1 }) : null;
  const rooms = Math.ceil(clients / roomSize);
  const parseRates = (raw, name) => {
    const rates = String(raw)
      .split(",")
      .map((s) => Number(s.trim()));
    if (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r <= 0)) usage(`bad --${name} ${raw}`);
    return rates;
  };

  // The steps this run may take: `stepRates` bounds the time cap.
  let plan = null;
  let rates = [];
  let latencyRate = null;
  if (mode === "fanout" && opts.ladder !== undefined) {
    const ladder = parseRates(opts.ladder, "ladder").sort((a, b) => a - b);
    const start = num(opts, "start", ladder[0], { min: 0 });
    const startIndex = ladder.indexOf(start);
    if (startIndex < 0) usage(`--start ${start} is not a rung of --ladder`);
    plan = {
      ladder,
      startIndex,
      repeats: num(opts, "repeats", 3, { integer: true, min: 1 }),
      generatorLimit: num(opts, "generator-limit", 80, { min: 1 }),
    };
  } else if (mode === "fanout") {
    rates = parseRates(opts.rates ?? "1,2,4,8,16,32", "rates");
  } else {
    rates = [num(opts, "deliveries", 10000, { min: 1 }) / (rooms * roomSize)];
  }
  if (mode === "fanout" && opts["latency-deliveries"] !== undefined) {
    latencyRate = num(opts, "latency-deliveries", 10000, { min: 1 }) / (rooms * roomSize);
  }
  const latencyWarmupS = num(opts, "latency-warmup", 3);
  const latencyDurationS = num(opts, "latency-duration", 8, { min: 0.1 });

  const stepMs = (warmupS + durationS) * 1000 + DRAIN_MS + 1000 + (plan ? 10000 : 0);
  const stepCount = plan ? plan.repeats * plan.ladder.length : rates.length;
  const latencyMs = latencyRate ? (latencyWarmupS + latencyDurationS) * 1000 + DRAIN_MS + 1000 : 0;
  const capMs = SETUP_CAP_MS + stepCount * stepMs + latencyMs + 10000;
  setTimeout(() => {
    log(`time cap of ${Math.round(capMs / 1000)} s reached; exiting`);
    process.exit(3);
  }, capMs).unref();

  const setup = await Promise.race([
    setupRooms(url, tokens, clients, roomSize),
    sleep(SETUP_CAP_MS).then(() => ({ error: new Error("connecting the clients took too long") })),
  ]);
  if (setup.error) {
    log(`giving up: ${setup.error.message}`);
    process.exit(1);
  }
  const runTag = (Date.now() % 2176782336).toString(36) + process.pid.toString(36);
  const senders = makeSenders(setup.sockets, roomSize, rooms, setup.members);
  const ctx = { mode, senders, serverPid, runTag, roomSize, clients };
  let stepNo = 0;

  const runStepAt = async (rate, repeat, stepMode = mode, warmup = warmupS, duration = durationS) => {
    sizeLatencyBuffer(rate * duration * clients);
    const res = await runStep({ ...ctx, mode: stepMode }, rate, ++stepNo, warmup, duration);
    if (repeat !== null) res.repeat = repeat;
    emit(res);
    log(
      `${stepMode}${repeat ? ` #${repeat}` : ""} rate ${rate}/s/sender: ${res.deliveries_per_s} deliveries/s, ` +
        `ratio ${res.delivery_ratio}, p50 ${res.p50_ms} p99 ${res.p99_ms} max ${res.max_ms} ms, ` +
        `server cpu ${res.server_cpu_pct}%, generator cpu ${res.generator_cpu_pct}% -> ${res.passed ? "pass" : "FAIL"}`,
    );
    return res;
  };

  if (plan) {
    await runPlan(ctx, plan, runStepAt);
  } else {
    for (const rate of rates) if (!(await runStepAt(rate, null)).passed) break;
  }
  if (latencyRate) {
    await waitServerIdle(serverPid);
    await runStepAt(latencyRate, null, "latency", latencyWarmupS, latencyDurationS);
  }
  for (const socket of setup.sockets) socket.close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Connections: open `count` idle connections in batches, read the server's RSS.

async function runConnections(opts) {
  const url = checkUrl(opts.url);
  const tokens = loadTokens(opts.tokens);
  const count = num(opts, "count", 10000, { integer: true, min: 1 });
  const batchSize = num(opts, "batch", 500, { integer: true, min: 1 });
  const serverPid = opts["server-pid"] ? num(opts, "server-pid", 0, { integer: true, min: 1 }) : null;

  const batches = Math.ceil(count / batchSize);
  const capMs = batches * (CONNECT_TIMEOUT_MS + 2000) + 20000;
  setTimeout(() => {
    log(`time cap of ${Math.round(capMs / 1000)} s reached; exiting`);
    process.exit(3);
  }, capMs).unref();

  const rssBefore = procRssKb(serverPid);
  const sockets = [];
  let failed = 0;
  let firstError = null;
  const started = performance.now();
  for (let first = 0; first < count; first += batchSize) {
    const batch = [];
    for (let i = first; i < Math.min(count, first + batchSize); i++) batch.push(connectOne(url, tokens[i % tokens.length]));
    for (const result of await Promise.all(batch)) {
      if (result instanceof Error) {
        failed++;
        firstError ??= result.message;
      } else sockets.push(result);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (failed) log(`${failed} connections failed; first error: ${firstError}`);
  await sleep(2000);
  const rssAfter = procRssKb(serverPid);
  let stillOpen = 0;
  for (const socket of sockets) if (socket.connected) stillOpen++;
  if (stillOpen !== sockets.length) log(`${sockets.length - stillOpen} connections closed during the 2 s wait`);
  const opened = sockets.length;
  emit({
    mode: "connections",
    opened,
    failed,
    seconds: round(seconds),
    connect_rate: round(opened / seconds, 1),
    server_rss_before_kb: rssBefore,
    server_rss_after_kb: rssAfter,
    rss_per_conn_kib: rssBefore == null || rssAfter == null || opened === 0 ? null : round((rssAfter - rssBefore) / opened, 2),
  });
  log(`connections: ${opened} open, ${failed} failed in ${seconds.toFixed(2)} s`);
  for (const socket of sockets) socket.close();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------

const { mode, opts } = parseArgs(process.argv.slice(2));
if (mode === "fanout" || mode === "latency") await runLoad(mode, opts);
else if (mode === "connections") await runConnections(opts);
else usage(mode ? `unknown mode: ${mode}` : "a mode is required");
