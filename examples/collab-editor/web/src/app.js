// The collaborative editor's page: a Yjs document per room `doc:<name>`, kept in sync with the server's copy (yrs)
// over Tidings, a textarea bound to its text, and the other members' carets.
//
// Wire (every binary value is standard base64):
//   send  { type: 'sync', sv }            -> reply { update, sv }: what we lack, and the server's state vector
//   send  { type: 'update', update }      a local change (the server applies it, saves it and broadcasts it)
//   send  { type: 'cursor', anchor, head } relative positions (Y.encodeRelativePosition)
//   room  { type: 'update', update, from } and { type: 'cursor', from, anchor, head }
import * as Y from 'yjs';
import { toBase64, fromBase64 } from './base64.js';
import { bindTextarea, LOCAL } from './textarea.js';
import { CaretLayer } from './carets.js';
import { docName, displayName, pickColor, safeColor } from './names.js';

const REMOTE = 'remote';
const CURSOR_INTERVAL = 100; // ms between two cursor messages at most

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const name = docName(params.get('doc'));
const me = displayName(params.get('name'));
const color = pickColor();
const forced = params.get('transport');

const doc = new Y.Doc();
const ytext = doc.getText('text');
const textarea = $('text');
const client = new Tidings.Client('/realtime', forced ? { transports: [forced] } : {});

let room = null;
let synced = false;
const cursors = new Map(); // session -> { anchor, head } (relative positions) of other members

window.editor = {
  client,
  doc,
  ytext,
  get room() { return room; },
  get synced() { return synced; },
  text: () => ytext.toString(),
  members: () => (room ? room.presence : []).map((m) => m.meta?.name ?? ''),
};

// ---- status, errors, saved ----

function setStatus(up, text) {
  $('status').className = up ? 'up' : 'down';
  $('status').textContent = text;
}

let errorTimer = null;
function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { box.hidden = true; }, 10000);
}

let inFlight = 0; // update messages not answered yet
function renderSaved() {
  const saving = !synced || inFlight > 0 || syncWanted;
  $('saved').textContent = saving ? 'saving…' : 'all changes saved';
  $('saved').className = saving ? 'saving' : 'saved';
  $('count').textContent = `${ytext.length.toLocaleString('en')} characters`;
}

client.on('state', (change) => {
  if (change.state === 'connecting') setStatus(false, `connecting (${change.transport})`);
  else if (change.state === 'connected') setStatus(true, `connected (${change.transport})`);
  else if (change.state === 'disconnected') setStatus(false, `disconnected (${change.code}), reconnecting`);
  else if (change.state === 'reconnecting') setStatus(false, `reconnecting in ${Math.ceil(change.delay / 1000)} s`);
  else if (change.state === 'closed') setStatus(false, `closed (${change.code} ${change.reason ?? ''})`);
});

// ---- the document <-> the server ----

function sendUpdate(update) {
  if (!room) return;
  inFlight++;
  renderSaved();
  room.send({ type: 'update', update: toBase64(update) }).then(
    () => {},
    (error) => {
      if (error.fromServer) showError(`The server refused an edit: ${error.message}`);
      // Lost on the way, perhaps (a dropped connection, a server restart): the next sync sends what is missing.
      else requestSync();
    },
  ).finally(() => { inFlight--; renderSaved(); });
}

// Local changes: to the server once synced; before that, the first sync sends them (what the server lacks).
doc.on('update', (update, origin) => {
  if (origin === REMOTE) return;
  if (synced) sendUpdate(update);
  scheduleCursor();
});

let syncWanted = false;
let syncRunning = false;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Exchanges state with the server (after a join, a re-join, a gap or a lost update); one at a time. */
async function requestSync() {
  syncWanted = true;
  renderSaved();
  if (syncRunning) return;
  syncRunning = true;
  let failures = 0;
  try {
    while (syncWanted && room) {
      syncWanted = false;
      try {
        await syncOnce();
        failures = 0;
      } catch (error) {
        if (error.fromServer) {
          showError(`Could not sync with the server: ${error.message}`);
          return;
        }
        syncWanted = true;
        failures++;
        await sleep(Math.min(10000, 500 * 2 ** failures));
      }
    }
  } finally {
    syncRunning = false;
    renderSaved();
  }
}

async function syncOnce() {
  const reply = await room.send({ type: 'sync', sv: toBase64(Y.encodeStateVector(doc)) });
  if (reply?.update) Y.applyUpdate(doc, fromBase64(reply.update), REMOTE);
  const mine = reply?.sv ? Y.encodeStateAsUpdate(doc, fromBase64(reply.sv)) : Y.encodeStateAsUpdate(doc);
  if (mine.length > 2) sendUpdate(mine);
  if (!synced) {
    synced = true;
    textarea.readOnly = false;
    textarea.placeholder = 'Start typing: everyone on this document sees it at once.';
    $('editor').classList.remove('loading');
  }
  // Whoever joined while we were away (or a new session of ours) has not seen our caret.
  scheduleCursor(true);
}

function onMessage(message) {
  if (!message || typeof message !== 'object') return;
  try {
    if (message.type === 'update' && typeof message.update === 'string') {
      Y.applyUpdate(doc, fromBase64(message.update), REMOTE);
    } else if (message.type === 'cursor' && message.from && message.from !== client.sessionId) {
      cursors.set(message.from, {
        anchor: Y.decodeRelativePosition(fromBase64(message.anchor)),
        head: Y.decodeRelativePosition(fromBase64(message.head)),
      });
      scheduleCarets();
    }
  } catch (error) {
    showError(`A ${message.type} message could not be read: ${error.message}`);
  }
}

// ---- our caret, to the others ----

let cursorTimer = null;
let lastCursorAt = 0;
let lastCursor = '';
let forceCursor = false;

/** Sends our selection soon: at most every CURSOR_INTERVAL ms, and only when it changed (unless `force`). */
function scheduleCursor(force = false) {
  forceCursor ||= force;
  if (cursorTimer !== null) return;
  cursorTimer = setTimeout(() => {
    cursorTimer = null;
    sendCursor();
  }, Math.max(0, lastCursorAt + CURSOR_INTERVAL - Date.now()));
}

function sendCursor() {
  if (!room || !synced || textarea.value !== ytext.toString()) return;
  const { selectionStart: start, selectionEnd: end, selectionDirection: direction } = textarea;
  const [a, b] = direction === 'backward' ? [end, start] : [start, end];
  const encode = (index) => toBase64(Y.encodeRelativePosition(Y.createRelativePositionFromTypeIndex(ytext, index)));
  const message = { type: 'cursor', anchor: encode(a), head: encode(b) };
  const key = `${message.anchor} ${message.head}`;
  if (key === lastCursor && !forceCursor) return;
  lastCursor = key;
  forceCursor = false;
  lastCursorAt = Date.now();
  room.send(message).catch((error) => {
    if (error.fromServer) showError(`The server refused the caret position: ${error.message}`);
  });
}

for (const event of ['select', 'selectionchange', 'keyup', 'mouseup', 'focus']) {
  textarea.addEventListener(event, () => scheduleCursor());
}
document.addEventListener('selectionchange', () => {
  if (document.activeElement === textarea) scheduleCursor();
});

// ---- the others: presence and carets ----

function others() {
  return (room ? room.presence : []).filter((m) => m.session !== client.sessionId);
}

function renderMembers() {
  const list = (room ? room.presence : []).map((member) => {
    const li = document.createElement('li');
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.background = safeColor(member.meta?.color);
    const label = document.createElement('span');
    label.className = 'name';
    label.textContent = member.meta?.name ?? '?';
    li.append(dot, label);
    if (member.session === client.sessionId) {
      li.className = 'me';
      const you = document.createElement('span');
      you.className = 'you';
      you.textContent = '(you)';
      li.append(you);
    }
    return li;
  });
  $('members').replaceChildren(...list);
  $('member-count').textContent = String(list.length);
}

const carets = new CaretLayer(textarea, $('carets'));
let caretsTimer = null;

function scheduleCarets() {
  if (caretsTimer === null) caretsTimer = setTimeout(renderCarets, 0);
}

function renderCarets() {
  caretsTimer = null;
  const shown = [];
  const present = new Set();
  for (const member of others()) {
    present.add(member.session);
    const cursor = cursors.get(member.session);
    if (!cursor) continue;
    const anchor = Y.createAbsolutePositionFromRelativePosition(cursor.anchor, doc);
    const head = Y.createAbsolutePositionFromRelativePosition(cursor.head, doc);
    // Positions in parts of the document not received yet show once they arrive.
    if (!anchor || !head || anchor.type !== ytext || head.type !== ytext) continue;
    shown.push({
      session: member.session,
      name: member.meta?.name ?? '?',
      color: safeColor(member.meta?.color),
      anchor: anchor.index,
      head: head.index,
    });
  }
  // Those who left lose their caret.
  for (const session of cursors.keys()) if (!present.has(session)) cursors.delete(session);
  carets.render(shown);
}

// ---- start ----

// One input's update must fit in one message (the server takes 512 KiB): 90,000 UTF-16 units are at most 270 KB
// of UTF-8, 360 KB in base64, with room for Yjs' own bytes.
const MAX_INSERT = 90000;
bindTextarea(textarea, ytext, {
  maxInsert: MAX_INSERT,
  onTooLarge: () => showError(`That paste is too large to share at once (over ${MAX_INSERT.toLocaleString('en')} characters): paste it in parts.`),
});
doc.on('update', () => {
  renderSaved();
  scheduleCarets();
});

$('doc-name').textContent = name;
document.title = `${name} · Tidings editor`;
$('open-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const target = docName($('open-name').value);
  const query = new URLSearchParams({ doc: target, name: me });
  if (forced) query.set('transport', forced);
  location.search = query.toString();
});
renderSaved();

async function start() {
  try {
    room = await client.join(`doc:${name}`, { name: me, color });
  } catch (error) {
    showError(`Could not open "${name}": ${error.message}`);
    return;
  }
  room.on('publication', (publication) => onMessage(publication.data));
  room.on('push', onMessage);
  room.on('join', () => scheduleCursor(true));
  room.on('presence', () => {
    renderMembers();
    scheduleCarets();
  });
  room.on('joined', (event) => {
    renderMembers();
    // A new session (the server restarted, or forgot us): whatever happened meanwhile is synced again.
    if (event.rejoined) requestSync();
  });
  room.on('gap', () => requestSync());
  room.on('error', (error) => showError(`Left the document: ${error.message}`));
  renderMembers();
  await requestSync();
}

start();
