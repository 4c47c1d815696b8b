// The realtalk browser example: a voice conversation through the relay, with barge-in.
//
// - The page gets a session token: from the URL fragment (#session_id=...&token=..., what
//   `realtalk relay --web` prints; a fragment never reaches a server log) or, when the relay
//   runs with --demo-tokens, from GET /demo-token. A real app's backend mints it.
// - It connects to the relay with the realtime protocol, offering the token as a WebSocket
//   subprotocol (browsers cannot set headers): ["realtalk", "realtalk-token.<token>"].
// - The microphone streams as input_audio_buffer.append (PCM16, 24 kHz, ~40 ms a frame).
// - Barge-in is local: while the AI speaks, ~120 ms of speech on the microphone stops playback
//   at once, sends response.cancel, then conversation.item.truncate with the milliseconds the
//   user actually heard (the player's exact position). Server VAD still ends the user's turns.
//
// window.realtalkState holds what the page shows, for tests and curious developers.

const BARGE_IN_DBFS = -38;       // microphone level that counts as speech
const BARGE_IN_MIN_MS = 120;     // how long it must last
const PROTOCOL_RATE = 24000;

const state = {
  connection: "idle",     // idle, connecting, connected, closed
  ai: "idle",             // idle, speaking, interrupted
  sessionId: null,
  micDbfs: -120,
  bargeIns: 0,
  lastBargeIn: null,      // {item, heardMs, receivedMs, droppedMs, stopMs, cancelSentMs}
  responses: 0,
  audioReceivedMs: 0,
  errors: [],
  transcript: "",
  log: [],
};
window.realtalkState = state;

let ws = null;
let context = null;
let player = null;
let activeResponse = null;   // the response still generating upstream
let playingItem = null;      // the assistant item whose audio is queued or playing
const receivedMs = {};       // item id -> ms of audio received
const cancelled = new Set(); // responses whose late audio must not play
let speechMs = 0;
let pendingBargeIn = null;

const $ = (id) => document.getElementById(id);

function log(text) {
  state.log.push(`${(performance.now() / 1000).toFixed(2)} ${text}`);
  if (state.log.length > 200) state.log.shift();
  render();
}

function render() {
  $("connection").textContent = state.connection;
  $("connection").className = "value " + state.connection;
  $("ai").textContent = state.ai;
  $("ai").className = "value " + state.ai;
  $("session").textContent = state.sessionId || "-";
  $("bargeins").textContent = String(state.bargeIns);
  const last = state.lastBargeIn;
  $("heard").textContent = last && last.heardMs !== null
    ? `${last.heardMs} / ${Math.round(last.receivedMs)} ms` : "-";
  $("stop").textContent = last && last.stopMs !== null ? `${last.stopMs.toFixed(1)} ms` : "-";
  $("dropped").textContent = last ? `${Math.round(last.droppedMs)} ms` : "-";
  $("level").value = Math.max(0, 100 + state.micDbfs);
  $("transcript").textContent = state.transcript;
  $("errors").textContent = state.errors.map((e) => `${e.code}: ${e.message}`).join("\n");
  $("log").textContent = state.log.slice(-12).join("\n");
}

async function sessionToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    return { token: fragment.get("token"), sessionId: fragment.get("session_id") };
  }
  const response = await fetch("/demo-token", { cache: "no-store" });
  if (!response.ok) throw new Error("no token: open the URL `realtalk relay --web` prints");
  const minted = await response.json();
  return { token: minted.token, sessionId: minted.session_id };
}

function send(event) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function pcm16ToFloat(base64) {
  const binary = atob(base64);
  const samples = new Float32Array(binary.length >> 1);
  for (let i = 0; i < samples.length; i++) {
    const lo = binary.charCodeAt(2 * i);
    const hi = binary.charCodeAt(2 * i + 1);
    let value = (hi << 8) | lo;
    if (value >= 0x8000) value -= 0x10000;
    samples[i] = value / 0x8000;
  }
  return samples;
}

async function startAudio() {
  context = new AudioContext();
  await context.audioWorklet.addModule("worklets.js");
  player = new AudioWorkletNode(context, "player", { outputChannelCount: [1] });
  player.connect(context.destination);
  player.port.onmessage = (event) => onPlayer(event.data);
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
  });
  const mic = context.createMediaStreamSource(stream);
  const capture = new AudioWorkletNode(context, "mic-capture");
  mic.connect(capture);
  capture.port.onmessage = (event) => onMicChunk(event.data);
  await context.resume();
  log(`audio running at ${context.sampleRate} Hz`);
}

function onMicChunk({ pcm, dbfs }) {
  state.micDbfs = dbfs;
  send({ type: "input_audio_buffer.append", audio: toBase64(pcm) });
  const chunkMs = (pcm.byteLength / 2 / PROTOCOL_RATE) * 1000;
  speechMs = dbfs > BARGE_IN_DBFS ? speechMs + chunkMs : 0;
  if (state.ai === "speaking" && speechMs >= BARGE_IN_MIN_MS) bargeIn("microphone");
  render();
}

function onPlayer(message) {
  if (message.type === "position") {
    if (state.ai === "speaking" && !activeResponse && message.queued === 0) {
      state.ai = "idle"; // the response is done and its audio has played out
      render();
    }
  } else if (message.type === "cleared" && pendingBargeIn) {
    const barge = pendingBargeIn;
    pendingBargeIn = null;
    const item = barge.item;
    const heard = Math.floor((message.played / PROTOCOL_RATE) * 1000);
    const received = receivedMs[item] || 0;
    barge.heardMs = Math.min(heard, Math.floor(received));
    barge.receivedMs = received;
    barge.droppedMs = (message.dropped / PROTOCOL_RATE) * 1000;
    barge.stopMs = performance.now() - barge.detectedAt;
    if (item) {
      send({ type: "conversation.item.truncate", item_id: item, content_index: 0,
             audio_end_ms: barge.heardMs });
    }
    log(`truncated ${item} at ${barge.heardMs} ms (${Math.round(barge.droppedMs)} ms unplayed)`);
  }
}

function bargeIn(source) {
  if (pendingBargeIn || state.ai !== "speaking") return;
  const detectedAt = performance.now();
  // 1. stop playback now (the worklet answers with the exact position)
  player.port.postMessage({ type: "clear", item: playingItem });
  // 2. cancel the response if it is still generating
  let cancelSentMs = null;
  if (activeResponse) {
    cancelled.add(activeResponse);
    send({ type: "response.cancel", response_id: activeResponse });
    cancelSentMs = performance.now() - detectedAt;
  }
  // 3. truncate once the player reports what was heard (see onPlayer)
  pendingBargeIn = { item: playingItem, detectedAt, cancelSentMs, heardMs: null,
                     receivedMs: 0, droppedMs: 0, stopMs: null };
  state.lastBargeIn = pendingBargeIn;
  state.bargeIns += 1;
  state.ai = "interrupted";
  log(`barge-in (${source})`);
}

function onServerEvent(event) {
  switch (event.type) {
    case "session.created":
      state.sessionId = event.session.id;
      // Local barge-in is the fast path: the server's VAD ends turns but does not cancel.
      send({ type: "session.update", session: { type: "realtime", audio: { input: {
        turn_detection: { type: "server_vad", create_response: true, interrupt_response: false },
      } } } });
      log("session started");
      break;
    case "response.created":
      activeResponse = event.response.id;
      state.responses += 1;
      break;
    case "response.output_item.added":
      if (event.item && event.item.role === "assistant") playingItem = event.item.id;
      break;
    case "response.output_audio.delta":
    case "response.audio.delta": {
      if (cancelled.has(event.response_id)) break; // late audio of a cancelled response
      const samples = pcm16ToFloat(event.delta);
      receivedMs[event.item_id] = (receivedMs[event.item_id] || 0)
        + (samples.length / PROTOCOL_RATE) * 1000;
      state.audioReceivedMs += (samples.length / PROTOCOL_RATE) * 1000;
      playingItem = event.item_id;
      player.port.postMessage({ type: "push", item: event.item_id, samples }, [samples.buffer]);
      if (state.ai !== "speaking") log("AI speaking");
      state.ai = "speaking";
      break;
    }
    case "response.output_audio_transcript.delta":
    case "response.audio_transcript.delta":
      if (!cancelled.has(event.response_id)) state.transcript += event.delta;
      break;
    case "response.done":
      if (activeResponse === event.response.id) activeResponse = null;
      state.transcript += "\n";
      log(`response ${event.response.status}`);
      break;
    case "error":
      // A cancel racing the response's natural end is harmless.
      if (event.error.code !== "response_cancel_not_active") {
        state.errors.push({ code: event.error.code, message: event.error.message });
      }
      log(`error ${event.error.code}`);
      break;
    default:
      break;
  }
  render();
}

async function connect() {
  if (ws) return;
  state.connection = "connecting";
  render();
  const { token, sessionId } = await sessionToken();
  await startAudio();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/v1/realtime?session_id=${encodeURIComponent(sessionId)}`;
  ws = new WebSocket(url, ["realtalk", `realtalk-token.${token}`]);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("could not connect to the relay"));
  });
  state.connection = "connected";
  ws.onmessage = (message) => onServerEvent(JSON.parse(message.data));
  ws.onclose = (close) => {
    state.connection = "closed";
    log(`closed (${close.code}${close.reason ? ": " + close.reason : ""})`);
  };
  log("connected");
}

function ask() {
  send({ type: "conversation.item.create", item: { type: "message", role: "user",
    content: [{ type: "input_text", text: "Tell me about the weather tomorrow." }] } });
  send({ type: "response.create" });
}

$("connect").onclick = () => connect().catch((e) => { state.errors.push({ code: "page", message: String(e) }); render(); });
$("ask").onclick = ask;
$("interrupt").onclick = () => bargeIn("button");
render();

if (new URLSearchParams(location.search).get("autostart") === "1") {
  connect().then(ask).catch((e) => {
    state.errors.push({ code: "page", message: String(e) });
    render();
  });
}
