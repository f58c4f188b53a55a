// The Cairn console. It speaks only the WebSocket API (/v2/ws): every read and write is a
// request frame, and the page stays live by tailing the project's events (event_subscribe).
// No framework and no build step: this file is served as written.

const $ = (id) => document.getElementById(id);

/** A random version-4 UUID (crypto.randomUUID needs a secure context; this does not). */
function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Seconds as "42 s", "3 min", "2 h". */
function duration(secs) {
  if (secs < 120) return `${Math.max(0, Math.round(secs))} s`;
  if (secs < 7200) return `${Math.round(secs / 60)} min`;
  return `${Math.round(secs / 3600)} h`;
}

/** One element with text and attributes. */
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** A WebSocket connection for one project: requests answered by promise, events to a callback. */
class Connection {
  constructor(project, token, onEvent, onClose) {
    this.project = project;
    this.token = token;
    this.clientId = uuid4();
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.pending = new Map();
    this.next = 1;
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${scheme}//${location.host}/v2/ws`);
    this.ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    this.ws.onclose = () => {
      for (const { reject } of this.pending.values()) reject(new Error("connection closed"));
      this.pending.clear();
      this.onClose();
    };
    return new Promise((resolve, reject) => {
      this.ws.onopen = async () => {
        try {
          if (this.token) await this.request("authenticate", {}, { "X-Auth-Token": this.token });
          resolve();
        } catch (e) {
          reject(e);
        }
      };
      this.ws.onerror = () => reject(new Error("cannot reach the WebSocket API"));
    });
  }

  close() {
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
    }
  }

  /** Sends one request; resolves with its body, or rejects with the server's error. */
  request(action, body = {}, extra = {}) {
    // authenticate is echoed without headers, so it is matched by its action instead.
    const id = action === "authenticate" ? "authenticate" : String(this.next++);
    const headers = {
      "Client-ID": this.clientId,
      "X-Project-ID": this.project,
      "X-Console-Request": id,
      ...extra,
    };
    this.ws.send(JSON.stringify({ action, headers, body }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  receive(frame) {
    if (frame.Message_Type === "Event") {
      this.onEvent(frame);
      return;
    }
    const request = frame.request || {};
    const id =
      request.action === "authenticate"
        ? "authenticate"
        : (request.headers || {})["X-Console-Request"];
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    const status = (frame.headers || {}).status || 500;
    if (status >= 400) {
      const body = frame.body || {};
      waiter.reject(new Error(`${status}: ${body.error || body.description || JSON.stringify(body)}`));
    } else {
      waiter.resolve(frame.body || {});
    }
  }
}

/** What the page shows, and the one connection it shows it through. */
const state = {
  conn: null,
  queues: new Map(), // name -> {free, claimed, total, oldestCreated}
  selected: null,
  claims: new Map(), // claim id -> {queue, ids}
  history: null, // {queue, id}
  tail: [],
  timers: new Map(),
};

function showError(e) {
  const box = $("error");
  box.textContent = e.message || String(e);
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => (box.hidden = true), 6000);
}

/** Runs `fn` once, `ms` after the last call with the same key. */
function debounce(key, ms, fn) {
  clearTimeout(state.timers.get(key));
  state.timers.set(key, setTimeout(() => fn().catch(showError), ms));
}

function setStatus(text, ok) {
  $("status").textContent = text;
  $("status").classList.toggle("ok", ok);
}

async function connect(project, token) {
  if (state.conn) state.conn.close();
  state.queues.clear();
  state.claims.clear();
  state.tail = [];
  select(null);
  renderQueues();
  renderTail();
  setStatus("connecting…", false);
  const conn = new Connection(project, token, onEvent, () => setStatus("disconnected", false));
  state.conn = conn;
  await conn.open();
  await refreshQueues();
  // The tail starts ten minutes back, so the page opens on recent activity.
  const since = new Date(Date.now() - 600_000).toISOString().replace(/\.\d+Z$/, "Z");
  await conn.request("event_subscribe", { since });
  setStatus(`connected to ${project}`, true);
}

async function refreshQueues() {
  const names = [];
  let marker;
  for (let page = 0; page < 50; page++) {
    const body = { limit: 20 };
    if (marker) body.marker = marker;
    const { queues = [] } = await state.conn.request("queue_list", body);
    names.push(...queues.map((q) => q.name));
    if (queues.length < 20) break;
    marker = queues[queues.length - 1].name;
  }
  for (const name of [...state.queues.keys()]) {
    if (!names.includes(name)) state.queues.delete(name);
  }
  await Promise.all(names.map(refreshStats));
  if (state.selected && !state.queues.has(state.selected)) select(null);
  renderQueues();
}

async function refreshStats(name) {
  let stats;
  try {
    ({ messages: stats } = await state.conn.request("queue_get_stats", { queue_name: name }));
  } catch (e) {
    if (String(e.message).startsWith("404")) {
      state.queues.delete(name);
      renderQueues();
      return;
    }
    throw e;
  }
  state.queues.set(name, {
    free: stats.free,
    claimed: stats.claimed,
    total: stats.total,
    oldestCreated: stats.oldest ? Date.parse(stats.oldest.created) : null,
  });
  renderQueues();
}

function renderQueues() {
  const body = $("queues").tBodies[0];
  body.replaceChildren();
  for (const name of [...state.queues.keys()].sort()) {
    const q = state.queues.get(name);
    const row = el("tr", undefined, { "data-queue": name, tabindex: "0" });
    if (name === state.selected) row.classList.add("selected");
    const age = q.oldestCreated ? duration((Date.now() - q.oldestCreated) / 1000) : "–";
    row.append(el("th", name, { scope: "row" }), el("td", q.total, { "data-col": "total" }),
      el("td", q.free, { "data-col": "free" }), el("td", q.claimed, { "data-col": "claimed" }),
      el("td", age, { "data-col": "oldest" }));
    row.onclick = () => select(name);
    row.onkeydown = (e) => e.key === "Enter" && select(name);
    body.append(row);
  }
}

function select(name) {
  state.selected = name;
  $("queue-panel").hidden = !name;
  $("queue-title").textContent = name ? `Queue ${name}` : "Queue";
  renderQueues();
  if (name) refreshMessages().catch(showError);
}

async function refreshMessages() {
  const queue = state.selected;
  if (!queue) return;
  const { messages = [] } = await state.conn.request("message_list", {
    queue_name: queue,
    echo: true,
    include_claimed: true,
    limit: 20,
  });
  if (queue !== state.selected) return;
  const claimOf = new Map();
  for (const [cid, c] of state.claims) {
    if (c.queue === queue) for (const id of c.ids) claimOf.set(id, cid);
  }
  const body = $("messages").tBodies[0];
  body.replaceChildren();
  for (const m of messages) {
    const row = el("tr", undefined, { "data-message": m.id });
    const claim = claimOf.get(m.id);
    row.append(el("td", m.id), el("td", duration(m.age)), el("td", m.ttl),
      el("td", claim ? claim.slice(0, 8) : "", claim ? { title: claim } : {}),
      el("td", JSON.stringify(m.body), { class: "body", title: JSON.stringify(m.body) }));
    const actions = el("td");
    const history = el("button", "History", { type: "button" });
    history.onclick = () => openHistory(queue, m.id).catch(showError);
    const del = el("button", "Delete", { type: "button" });
    del.onclick = () => deleteMessage(queue, m.id, claim).catch(showError);
    actions.append(history, " ", del);
    row.append(actions);
    body.append(row);
  }
  $("messages-empty").hidden = messages.length > 0;
  renderClaims();
}

function renderClaims() {
  const list = $("claims");
  list.replaceChildren();
  for (const [cid, c] of state.claims) {
    if (c.queue !== state.selected) continue;
    const item = el("li", `${cid}: ${c.ids.length} message(s) `, { "data-claim": cid });
    const done = el("button", "Delete its messages", { type: "button" });
    done.onclick = async () => {
      for (const id of c.ids) {
        await state.conn.request("message_delete", { queue_name: c.queue, message_id: id, claim_id: cid });
      }
      state.claims.delete(cid);
      await refreshMessages();
    };
    const release = el("button", "Release", { type: "button" });
    release.onclick = async () => {
      await state.conn.request("claim_delete", { queue_name: c.queue, claim_id: cid });
      state.claims.delete(cid);
      await refreshMessages();
    };
    item.append(done, " ", release);
    list.append(item);
  }
}

async function deleteMessage(queue, id, claim) {
  const body = { queue_name: queue, message_id: id };
  if (claim) body.claim_id = claim;
  await state.conn.request("message_delete", body);
  if (claim) {
    const c = state.claims.get(claim);
    c.ids = c.ids.filter((m) => m !== id);
    if (!c.ids.length) state.claims.delete(claim);
  }
  await refreshMessages();
}

async function openHistory(queue, id) {
  state.history = { queue, id };
  await refreshHistory();
  $("history-panel").hidden = false;
}

async function refreshHistory() {
  const { queue, id } = state.history;
  const doc = await state.conn.request("message_history", { queue_name: queue, message_id: id });
  $("history-title").textContent = `History of ${id} in ${queue}`;
  $("history-note").textContent = doc.complete
    ? ""
    : "The log no longer holds this message's posting (pruned by retention).";
  const list = $("history");
  list.replaceChildren();
  for (const e of doc.events) {
    const details = Object.entries(e.event || {})
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(" ");
    list.append(el("li", `${e.at}  ${e.type}  ${details}`, { "data-type": e.type }));
  }
}

/** A live event: it joins the tail, and refreshes what it changed. */
function onEvent(ev) {
  state.tail.unshift(ev);
  state.tail.length = Math.min(state.tail.length, 200);
  if (!$("tail-pause").checked) renderTail();
  if (ev.type === "QueueCreated" || ev.type === "QueueDeleted") {
    debounce("queues", 100, refreshQueues);
  } else if (ev.queue && state.queues.has(ev.queue)) {
    debounce(`stats:${ev.queue}`, 100, () => refreshStats(ev.queue));
  }
  if (ev.queue === state.selected) debounce("messages", 100, refreshMessages);
  if (state.history && ev.queue === state.history.queue) debounce("history", 150, refreshHistory);
}

function renderTail() {
  const queue = $("filter-queue").value.trim();
  const type = $("filter-type").value.trim().toLowerCase();
  const list = $("tail");
  list.replaceChildren();
  for (const ev of state.tail) {
    if (queue && ev.queue !== queue) continue;
    if (type && !ev.type.toLowerCase().includes(type)) continue;
    list.append(el("li", `#${ev.seq} ${ev.at} ${ev.queue} ${ev.type}`, { "data-type": ev.type }));
  }
}

function wire() {
  const saved = JSON.parse(localStorage.getItem("cairn-console") || "{}");
  if (saved.project) $("project").value = saved.project;
  $("connect").onsubmit = (e) => {
    e.preventDefault();
    const project = $("project").value.trim();
    const token = $("token").value.trim();
    localStorage.setItem("cairn-console", JSON.stringify({ project }));
    connect(project, token).catch((err) => {
      setStatus("not connected", false);
      showError(err);
    });
  };
  $("create-queue").onsubmit = async (e) => {
    e.preventDefault();
    try {
      const name = $("new-queue").value.trim();
      await state.conn.request("queue_create", { queue_name: name });
      $("new-queue").value = "";
      await refreshStats(name);
      select(name);
    } catch (err) {
      showError(err);
    }
  };
  $("post").onsubmit = async (e) => {
    e.preventDefault();
    try {
      const body = JSON.parse($("post-body").value);
      const ttl = Number($("post-ttl").value);
      await state.conn.request("message_post", { queue_name: state.selected, messages: [{ body, ttl }] });
    } catch (err) {
      showError(err);
    }
  };
  $("claim").onsubmit = async (e) => {
    e.preventDefault();
    try {
      const queue = state.selected;
      const reply = await state.conn.request("claim_create", {
        queue_name: queue,
        limit: Number($("claim-limit").value),
        ttl: Number($("claim-ttl").value),
        grace: Number($("claim-grace").value),
      });
      if (!reply.claim_id) throw new Error("Nothing to claim: no free messages.");
      state.claims.set(reply.claim_id, { queue, ids: reply.messages.map((m) => m.id) });
      await refreshMessages();
    } catch (err) {
      showError(err);
    }
  };
  $("purge").onclick = async () => {
    if (!confirm(`Delete every message of ${state.selected}?`)) return;
    await state.conn
      .request("queue_purge", { queue_name: state.selected, resource_types: ["messages"] })
      .catch(showError);
  };
  $("delete-queue").onclick = async () => {
    if (!confirm(`Delete the queue ${state.selected} and all it holds?`)) return;
    await state.conn.request("queue_delete", { queue_name: state.selected }).catch(showError);
  };
  $("tail-filter").oninput = renderTail;
  $("tail-filter").onsubmit = (e) => e.preventDefault();
  // Ages grow by themselves: redraw them every few seconds.
  setInterval(renderQueues, 5000);
}

wire();
