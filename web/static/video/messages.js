// The conversation page: new messages appear without reloading (a light poll;
// during the session the room's WebSocket delivers them live instead).
const list = document.getElementById("messages");
const me = Number(list.dataset.me);
let after = Number(list.dataset.after);

async function poll() {
  if (document.visibilityState !== "visible") return;
  const response = await fetch(`${list.dataset.poll}?after=${after}`, { credentials: "same-origin" }).catch(() => null);
  if (!response || !response.ok) return;
  const { messages } = await response.json();
  for (const message of messages) {
    after = Math.max(after, message.id);
    if (document.getElementById(`m${message.id}`)) continue;
    document.getElementById("no-messages")?.remove();
    const item = document.createElement("li");
    item.className = "message" + (message.sender_id === me ? " mine" : "");
    item.id = `m${message.id}`;
    const meta = document.createElement("span");
    meta.className = "message-meta";
    meta.textContent = `${message.sender_name} · ${new Date(message.created_at).toLocaleString([], { day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", hour12: false, timeZone: list.dataset.zone })}`;
    const body = document.createElement("span");
    body.className = "message-body";
    body.innerHTML = message.html; // escaped by the server, links added safely
    item.append(meta, body);
    list.append(item);
  }
}

setInterval(poll, 15000);
document.addEventListener("visibilitychange", poll);
