// The video session page: device preview and choice, joining the room over the
// WebSocket, the media connection the server tells us to make (the other person,
// or the platform's relay: we only learn a quality hint), reconnects, and chat.
// Plain modern JavaScript, no build step. The protocol is described in
// video/signalling.py.

const config = JSON.parse(document.getElementById("room-config").textContent);
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const storageKey = `consult-room-${config.bookingId}`;

const room = {
  peerId: crypto.randomUUID(),
  ws: null,
  pc: null,
  remoteId: null,
  offerer: false,
  everConnected: false,
  pendingCandidates: [],
  localStream: new MediaStream(),
  cameraTrack: null,
  micTrack: null,
  screenTrack: null,
  mode: null, // "av", "audio", "view" once joined
  joined: false,
  leaving: false,
  finished: false,
  reconnectDelay: 1000,
  heartbeat: null,
  watchdog: null,
  disconnectTimer: null,
  callStarted: null,
  timer: null,
  heartbeatSeconds: 20,
  directTimeoutSeconds: 15,
  otherPresent: false,
};
// Exposed for diagnostics (and the browser tests): the live connection and state.
window.consultRoom = room;

// --- UI helpers -----------------------------------------------------------------------

function setState(state, text) {
  const badge = $("connection-state");
  badge.dataset.state = state;
  badge.textContent = text;
}

function showProblem(id, text) {
  const element = $(id);
  element.textContent = text;
  element.hidden = !text;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function updateWaiting() {
  const connected = room.pc && room.pc.connectionState === "connected";
  $("waiting").hidden = room.otherPresent && connected;
  if (!room.otherPresent) {
    $("waiting").textContent = `Waiting for ${config.otherName} to join…`;
  } else if (!connected) {
    $("waiting").textContent = `Connecting to ${config.otherName}…`;
  }
}

function startTimer() {
  if (room.timer) return;
  room.callStarted = Date.now();
  const element = $("call-timer");
  element.hidden = false;
  room.timer = setInterval(() => {
    const seconds = Math.floor((Date.now() - room.callStarted) / 1000);
    const hours = Math.floor(seconds / 3600);
    const mm = String(Math.floor((seconds % 3600) / 60)).padStart(2, "0");
    const ss = String(seconds % 60).padStart(2, "0");
    element.textContent = hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
  }, 1000);
}

// --- devices -----------------------------------------------------------------------------

async function openDevices(kinds, deviceIds = {}) {
  // Ask for what we want; on refusal the caller offers audio-only or view-only.
  const constraints = {
    audio: kinds.includes("audio") ? (deviceIds.audio ? { deviceId: { exact: deviceIds.audio } } : true) : false,
    video: kinds.includes("video")
      ? { ...(deviceIds.video ? { deviceId: { exact: deviceIds.video } } : {}), width: { ideal: 1280 }, height: { ideal: 720 } }
      : false,
  };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  setLocalTrack("audio", stream.getAudioTracks()[0] || null);
  setLocalTrack("video", stream.getVideoTracks()[0] || null);
  $("preview").srcObject = room.localStream;
  await listDevices();
  return stream;
}

function setLocalTrack(kind, track) {
  const old = kind === "audio" ? room.micTrack : room.cameraTrack;
  if (old && old !== track) {
    room.localStream.removeTrack(old);
    old.stop();
  }
  if (track) room.localStream.addTrack(track);
  if (kind === "audio") room.micTrack = track;
  else room.cameraTrack = track;
  if (kind === "video" && room.screenTrack) return; // the screen stays on air while shared
  const sender = senderFor(kind);
  if (sender) sender.replaceTrack(track);
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (select, kind, current) => {
    select.replaceChildren();
    devices
      .filter((device) => device.kind === kind)
      .forEach((device, index) => {
        const option = new Option(device.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${index + 1}`, device.deviceId);
        option.selected = device.deviceId === current;
        select.append(option);
      });
    select.disabled = select.options.length === 0;
  };
  fill($("camera-select"), "videoinput", room.cameraTrack?.getSettings().deviceId);
  fill($("mic-select"), "audioinput", room.micTrack?.getSettings().deviceId);
  show("device-choice", true);
}

function explainRefusal(error) {
  const name = error && error.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Your browser blocked the camera or microphone. To allow it, use the camera icon in the address bar and try again — or join with audio only, or without camera and microphone to watch and listen.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return "We could not find a camera or microphone. You can join with audio only, or without camera and microphone.";
  }
  if (name === "NotReadableError") {
    return "Another app is using your camera or microphone. Close it and try again, or join without them.";
  }
  return "Your camera or microphone could not be started. You can still join without them.";
}

async function enableDevices() {
  showProblem("permission-problem", "");
  try {
    await openDevices(["audio", "video"], savedDevices());
    show("enable-devices", false);
    show("join", true);
    show("join-audio", false);
    show("join-view", true);
    $("join").focus();
  } catch (error) {
    showProblem("permission-problem", explainRefusal(error));
    $("enable-devices").textContent = "Try again";
    show("join-audio", true);
    show("join-view", true);
  }
}

function savedDevices() {
  try {
    return JSON.parse(sessionStorage.getItem(storageKey) || "{}").devices || {};
  } catch {
    return {};
  }
}

function remember(mode) {
  const devices = {
    audio: room.micTrack?.getSettings().deviceId,
    video: room.cameraTrack?.getSettings().deviceId,
  };
  sessionStorage.setItem(storageKey, JSON.stringify({ mode, devices }));
}

// --- joining and the WebSocket ---------------------------------------------------------------

async function join(mode) {
  if (mode === "audio" && !room.micTrack) {
    try {
      await openDevices(["audio"], savedDevices());
    } catch (error) {
      showProblem("permission-problem", explainRefusal(error));
      return;
    }
  }
  if (mode === "view") {
    setLocalTrack("audio", null);
    setLocalTrack("video", null);
  }
  room.mode = mode;
  room.joined = true;
  room.leaving = false;
  remember(mode);
  show("prejoin", false);
  show("left", false);
  show("call", true);
  $("local-video").srcObject = room.localStream;
  $("toggle-mic").disabled = !room.micTrack;
  $("toggle-camera").disabled = !room.cameraTrack;
  setState("connecting", "Connecting…");
  updateWaiting();
  await connectSocket();
}

async function connectSocket() {
  if (room.leaving || room.finished) return;
  let response;
  try {
    response = await fetch(config.joinUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    return scheduleReconnect();
  }
  if (response.redirected || !(response.headers.get("Content-Type") || "").includes("json")) {
    // Signed out meanwhile (the join endpoint redirected to the sign-in page).
    room.finished = true;
    setState("closed", "Signed out");
    showProblem("room-problem", "Your sign-in has expired. Reload the page and sign in to rejoin.");
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || {};
    if (error.code === "not_open" || error.code === "room_closed" || response.status === 404) {
      room.finished = true;
      showProblem("room-problem", error.message || "The room is not available.");
      setState("closed", "Closed");
      return;
    }
    return scheduleReconnect();
  }
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + body.socket_path);
  room.ws = ws;
  ws.onopen = () => send({ type: "join", token: body.token, peer_id: room.peerId });
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => {
    if (room.ws !== ws) return;
    clearInterval(room.heartbeat);
    room.ws = null;
    if (!room.leaving && !room.finished) scheduleReconnect();
  };
}

function scheduleReconnect() {
  if (room.leaving || room.finished) return;
  setState("reconnecting", "Reconnecting…");
  const delay = room.reconnectDelay;
  room.reconnectDelay = Math.min(room.reconnectDelay * 2, 10000);
  setTimeout(connectSocket, delay);
}

function send(message) {
  if (room.ws && room.ws.readyState === WebSocket.OPEN) {
    room.ws.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function onMessage(message) {
  switch (message.type) {
    case "welcome":
      room.reconnectDelay = 1000;
      room.heartbeatSeconds = message.heartbeat_seconds;
      room.directTimeoutSeconds = message.direct_timeout_seconds;
      clearInterval(room.heartbeat);
      room.heartbeat = setInterval(() => send({ type: "ping" }), room.heartbeatSeconds * 1000);
      setState("waiting", "In the room");
      break;
    case "presence":
      room.otherPresent = message.present;
      if (!message.present) setState("waiting", `Waiting for ${config.otherName}`);
      updateWaiting();
      break;
    case "remote":
      onRemote(message);
      break;
    case "signal":
      onSignal(message).catch((error) => console.warn("signal failed", error));
      break;
    case "restart-ice":
      if (room.pc && room.offerer) makeOffer({ iceRestart: true });
      break;
    case "chat":
      addMessage(message.message);
      break;
    case "chat-error":
      showProblem("chat-error", message.message);
      break;
    case "notice":
      showProblem("room-problem", message.message);
      break;
    case "room-closed":
    case "replaced":
      room.finished = true;
      closePc();
      setState("closed", message.type === "replaced" ? "Joined elsewhere" : "Closed");
      showProblem("room-problem", message.message);
      break;
    case "error":
      showProblem("room-problem", message.message);
      if (["not_open", "room_closed", "not_found"].includes(message.code)) room.finished = true;
      break;
  }
}

// --- the media connection -----------------------------------------------------------------------

function senderFor(kind) {
  if (!room.pc) return null;
  const transceiver = room.pc.getTransceivers().find((t) => t.receiver.track.kind === kind);
  return transceiver ? transceiver.sender : null;
}

function onRemote(message) {
  if (message.id && message.id === room.remoteId && room.pc) return;
  closePc();
  room.remoteId = message.id;
  if (!message.id) {
    updateWaiting();
    return;
  }
  room.offerer = message.offerer;
  applyQuality(message.quality || { level: "full" });
  const pc = new RTCPeerConnection(message.ice);
  room.pc = pc;
  room.everConnected = false;
  room.pendingCandidates = [];
  const remoteStream = new MediaStream();
  $("remote-video").srcObject = remoteStream;
  pc.ontrack = (event) => {
    remoteStream.addTrack(event.track);
  };
  pc.onicecandidate = (event) => {
    if (event.candidate) send({ type: "signal", to: message.id, data: { candidate: event.candidate.toJSON() } });
  };
  pc.onconnectionstatechange = () => onConnectionState(pc);
  if (room.offerer) {
    // Both kinds always exist, so turning the camera on, sharing the screen or
    // switching devices is a replaceTrack, never a renegotiation.
    pc.addTransceiver(room.micTrack || "audio", { direction: "sendrecv", streams: [room.localStream] });
    pc.addTransceiver(currentVideoTrack() || "video", { direction: "sendrecv", streams: [room.localStream] });
    makeOffer();
  }
  clearTimeout(room.watchdog);
  room.watchdog = setTimeout(() => {
    if (room.pc === pc && !room.everConnected) reportFailure(pc);
  }, room.directTimeoutSeconds * 1000);
  updateWaiting();
}

function currentVideoTrack() {
  return room.screenTrack || room.cameraTrack;
}

async function makeOffer(options = {}) {
  const pc = room.pc;
  if (!pc) return;
  try {
    const offer = await pc.createOffer(options);
    if (pc !== room.pc) return;
    await pc.setLocalDescription(offer);
    send({ type: "signal", to: room.remoteId, data: { description: pc.localDescription.toJSON() } });
  } catch (error) {
    console.warn("offer failed", error);
  }
}

async function onSignal(message) {
  const pc = room.pc;
  if (!pc || message.from !== room.remoteId) return;
  const { description, candidate } = message.data || {};
  if (description) {
    await pc.setRemoteDescription(description);
    if (description.type === "offer") {
      for (const transceiver of pc.getTransceivers()) {
        const kind = transceiver.receiver.track.kind;
        transceiver.direction = "sendrecv";
        await transceiver.sender.replaceTrack(kind === "audio" ? room.micTrack : currentVideoTrack());
        transceiver.sender.setStreams?.(room.localStream);
      }
      await pc.setLocalDescription();
      send({ type: "signal", to: room.remoteId, data: { description: pc.localDescription.toJSON() } });
    }
    for (const pending of room.pendingCandidates.splice(0)) {
      await pc.addIceCandidate(pending).catch(() => {});
    }
    applyQuality(room.quality);
  } else if (candidate) {
    if (!pc.remoteDescription) room.pendingCandidates.push(candidate);
    else await pc.addIceCandidate(candidate).catch(() => {});
  }
}

function onConnectionState(pc) {
  if (pc !== room.pc) return;
  const state = pc.connectionState;
  clearTimeout(room.disconnectTimer);
  if (state === "connected") {
    room.everConnected = true;
    setState("connected", "Connected");
    showProblem("room-problem", "");
    startTimer();
  } else if (state === "disconnected") {
    setState("reconnecting", "Connection interrupted…");
    // Often a blip; if it lasts, ask for a new path (ICE restart, or the relay).
    room.disconnectTimer = setTimeout(() => {
      if (room.pc === pc && pc.connectionState !== "connected") reportFailure(pc);
    }, 5000);
  } else if (state === "failed") {
    setState("reconnecting", "Reconnecting…");
    reportFailure(pc);
  }
  updateWaiting();
}

function reportFailure(pc) {
  if (pc !== room.pc) return;
  send({ type: "connection-failed", connected_before: room.everConnected });
  // Give the next attempt its own time before reporting again.
  clearTimeout(room.watchdog);
  room.watchdog = setTimeout(() => {
    if (room.pc === pc && pc.connectionState !== "connected") reportFailure(pc);
  }, room.directTimeoutSeconds * 1000);
}

function applyQuality(quality) {
  room.quality = quality || { level: "full" };
  const hint = $("quality-hint");
  if (room.quality.level === "reduced") {
    hint.textContent = "Limited connection: reduced video quality";
    hint.hidden = false;
    const sender = senderFor("video");
    if (sender) {
      // No point sending more than will be forwarded.
      const parameters = sender.getParameters();
      if (parameters.encodings && parameters.encodings.length) {
        parameters.encodings[0].maxFramerate = room.quality.max_fps;
        parameters.encodings[0].maxBitrate = 600000;
        sender.setParameters(parameters).catch(() => {});
      }
    }
  } else {
    hint.hidden = true;
  }
}

function closePc() {
  clearTimeout(room.watchdog);
  clearTimeout(room.disconnectTimer);
  if (room.pc) {
    room.pc.onconnectionstatechange = null;
    room.pc.close();
    room.pc = null;
  }
  room.remoteId = null;
}

// --- controls ------------------------------------------------------------------------------------

function toggleMic() {
  if (!room.micTrack) return;
  room.micTrack.enabled = !room.micTrack.enabled;
  const muted = !room.micTrack.enabled;
  $("toggle-mic").textContent = muted ? "Unmute" : "Mute";
  $("toggle-mic").setAttribute("aria-pressed", String(muted));
}

function toggleCamera() {
  if (!room.cameraTrack) return;
  room.cameraTrack.enabled = !room.cameraTrack.enabled;
  const off = !room.cameraTrack.enabled;
  $("toggle-camera").textContent = off ? "Camera on" : "Camera off";
  $("toggle-camera").setAttribute("aria-pressed", String(off));
}

async function toggleScreen() {
  if (room.screenTrack) return stopScreen();
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (error) {
    if (error.name !== "NotAllowedError") showProblem("room-problem", "Screen sharing could not start.");
    return;
  }
  room.screenTrack = stream.getVideoTracks()[0];
  room.screenTrack.addEventListener("ended", stopScreen);
  const sender = senderFor("video");
  if (sender) await sender.replaceTrack(room.screenTrack);
  $("local-video").srcObject = new MediaStream([room.screenTrack]);
  $("toggle-screen").textContent = "Stop sharing";
  $("toggle-screen").setAttribute("aria-pressed", "true");
}

async function stopScreen() {
  if (!room.screenTrack) return;
  room.screenTrack.stop();
  room.screenTrack = null;
  const sender = senderFor("video");
  if (sender) await sender.replaceTrack(room.cameraTrack);
  $("local-video").srcObject = room.localStream;
  $("toggle-screen").textContent = "Share screen";
  $("toggle-screen").setAttribute("aria-pressed", "false");
}

function leave() {
  room.leaving = true;
  room.joined = false;
  sessionStorage.removeItem(storageKey);
  send({ type: "leave" });
  if (room.ws) room.ws.close();
  closePc();
  clearInterval(room.heartbeat);
  clearInterval(room.timer);
  room.timer = null;
  setState("idle", "Left");
  show("call", false);
  show("left", true);
}

async function changeDevice() {
  const ids = { video: $("camera-select").value || undefined, audio: $("mic-select").value || undefined };
  const kinds = [room.micTrack || room.mode !== "view" ? "audio" : null, room.cameraTrack ? "video" : null].filter(Boolean);
  try {
    await openDevices(kinds.length ? kinds : ["audio", "video"], ids);
    if (room.joined) remember(room.mode);
  } catch (error) {
    showProblem("permission-problem", explainRefusal(error));
  }
}

// --- chat ------------------------------------------------------------------------------------------

function addMessage(message) {
  const list = $("messages");
  if (list.querySelector(`[data-id="${message.id}"]`)) return;
  const item = document.createElement("li");
  item.className = "message" + (message.sender_id === config.myUserId ? " mine" : "");
  item.dataset.id = message.id;
  const meta = document.createElement("span");
  meta.className = "message-meta";
  const time = new Date(message.created_at).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone: config.zone,
  });
  meta.textContent = `${message.sender_name} · ${time}`;
  const body = document.createElement("span");
  body.className = "message-body";
  // Server-rendered: escaped text with only http(s) links added (video/messages.py).
  body.innerHTML = message.html;
  item.append(meta, body);
  list.append(item);
  list.scrollTop = list.scrollHeight;
  if (message.sender_id !== config.myUserId && document.visibilityState === "visible") {
    send({ type: "read", up_to: message.id });
  }
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  showProblem("chat-error", "");
  if (!text) return;
  if (text.length > config.maxLength) {
    showProblem("chat-error", `Use at most ${config.maxLength} characters.`);
    return;
  }
  if (send({ type: "chat", text, nonce: crypto.randomUUID() })) {
    input.value = "";
    return;
  }
  // Not in the call: post through the page instead.
  const response = await fetch(config.messagesUrl, {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ body: text }),
    credentials: "same-origin",
  }).catch(() => null);
  const body = response ? await response.json().catch(() => ({})) : {};
  if (response && response.ok) {
    input.value = "";
    addMessage(body);
  } else {
    showProblem("chat-error", body.error?.fields?.body || body.error?.message || "The message could not be sent. Try again.");
  }
}

// --- wiring -------------------------------------------------------------------------------------------

$("enable-devices").addEventListener("click", enableDevices);
$("join").addEventListener("click", () => join(room.cameraTrack ? "av" : "audio"));
$("join-audio").addEventListener("click", () => join("audio"));
$("join-view").addEventListener("click", () => join("view"));
$("rejoin").addEventListener("click", () => join(room.mode || "view"));
$("toggle-mic").addEventListener("click", toggleMic);
$("toggle-camera").addEventListener("click", toggleCamera);
$("toggle-screen").addEventListener("click", toggleScreen);
$("leave").addEventListener("click", leave);
$("camera-select").addEventListener("change", changeDevice);
$("mic-select").addEventListener("change", changeDevice);
$("chat-form").addEventListener("submit", sendChat);
$("chat-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) sendChat(event);
});
if (!navigator.mediaDevices?.getDisplayMedia) $("toggle-screen").hidden = true;

// A network change: reconnect the socket at once and ask for an ICE restart.
window.addEventListener("online", () => {
  if (!room.joined) return;
  if (!room.ws) connectSocket();
  else if (room.pc) reportFailure(room.pc);
});
navigator.connection?.addEventListener?.("change", () => {
  if (room.joined && room.pc && room.everConnected) reportFailure(room.pc);
});
window.addEventListener("pagehide", () => {
  if (room.joined) send({ type: "leave" });
});

// After a reload during the call, rejoin the same way without asking again.
(async () => {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(storageKey) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.mode) return;
  try {
    if (saved.mode === "av") await openDevices(["audio", "video"], saved.devices || {});
    if (saved.mode === "audio") await openDevices(["audio"], saved.devices || {});
  } catch {
    saved.mode = "view";
  }
  join(saved.mode);
})();
