// The session view: the feed's events as a list, one item per packet, step, note or connection
// change. A packet is drawn as an arrow between the two lanes (device left, platform right); its
// text (who sent it, type, key fields, size, timing) is its accessible name, so the list itself
// is the diagram's text alternative. Pauses open a gap whose height grows with its length.

import { bytes, duration, h } from './dom.js';

/** A pause longer than this gets a gap of its own. */
const GAP_MS = 250;
/** Items the list keeps; older ones leave it, so that a page left open for days stays light. */
const MAX_ITEMS = 2000;

export function createSessionView({ timeline, historyNote, onSelect }) {
  let lastSeq = 0;
  let lastT;
  /** Requests awaiting their answer, for the round-trip times: key -> time sent. */
  const pending = new Map();
  /** The arrow buttons in order, for the keyboard. */
  let arrows = [];
  let selected;
  let trimmed = 0;

  timeline.addEventListener('keydown', (event) => {
    const index = arrows.indexOf(document.activeElement);
    if (index < 0) return;
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: arrows.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    focusArrow(Math.max(0, Math.min(arrows.length - 1, next)));
  });

  /** Moves the one Tab stop of the list to arrow `index` and focuses it (a roving tabindex). */
  function focusArrow(index) {
    for (const arrow of arrows) arrow.tabIndex = -1;
    arrows[index].tabIndex = 0;
    arrows[index].focus();
    arrows[index].scrollIntoView({ block: 'nearest' });
  }

  /** Events not drawn yet: drawn together, a batch at a time, so a burst (the history) lays out once. */
  let queue = [];
  let scheduled = false;

  function add(event) {
    if (event.seq <= lastSeq) return; // seen already (a reconnect resends what the browser may have)
    lastSeq = event.seq;
    queue.push(event);
    // Bounded even where timers are held back (a hidden tab): older ones would be trimmed anyway.
    if (queue.length > MAX_ITEMS) trimmed += queue.splice(0, queue.length - MAX_ITEMS).length;
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
  }

  function flush() {
    scheduled = false;
    const following = timeline.scrollTop + timeline.clientHeight >= timeline.scrollHeight - 40;
    const batch = document.createDocumentFragment();
    for (const event of queue) {
      if (lastT !== undefined && event.t - lastT > GAP_MS) batch.append(gap(event.t - lastT));
      const since = lastT === undefined ? undefined : event.t - lastT;
      lastT = event.t;
      batch.append(item(event, since));
    }
    queue = [];
    timeline.append(batch);
    trim();
    if (following) timeline.scrollTop = timeline.scrollHeight;
  }

  function trim() {
    const excess = timeline.childElementCount - MAX_ITEMS;
    if (excess > 0) {
      const gone = new Set();
      for (let i = 0; i < excess; i++) {
        const first = timeline.firstElementChild;
        const arrow = first.querySelector('button.arrow');
        if (arrow !== null) gone.add(arrow);
        first.remove();
      }
      trimmed += excess;
      if (gone.size > 0) {
        const hadStop = arrows.some((a) => gone.has(a) && a.tabIndex === 0);
        arrows = arrows.filter((a) => !gone.has(a));
        if (selected !== undefined && gone.has(selected)) selected = undefined;
        if (hadStop && arrows.length > 0) arrows[0].tabIndex = 0;
      }
    }
    if (trimmed > 0) {
      historyNote.hidden = false;
      historyNote.textContent = `The ${trimmed} oldest items have left this view, which keeps the last ${MAX_ITEMS}.`;
    }
  }

  function item(event, since) {
    switch (event.kind) {
      case 'packet':
        return packetItem(event, since);
      case 'step':
        return h('li', { class: 'step' }, h('h3', {}, `Step: ${event.title}`), h('p', {}, event.text));
      case 'note':
        return h('li', { class: `note ${event.level}` }, event.level === 'error' ? `Failed: ${event.text}` : event.text);
      case 'connection':
        return h('li', { class: 'connection' }, connectionText(event));
      default:
        return h('li', { class: 'note' }, `(an event of a kind this page does not know: ${event.kind})`);
    }
  }

  function packetItem(event, since) {
    const from = event.direction === 'up' ? 'Device to platform' : 'Platform to device';
    const roundTrip = matchRoundTrip(event);
    const label = h(
      'span',
      { class: 'label' },
      h('span', { class: 'visually-hidden' }, `${from}: `),
      h('span', { class: 'type' }, event.type),
      keyFields(event),
      ` · ${bytes(event.size)}`,
      event.lost ? h('span', { class: 'visually-hidden' }, ' · lost: the connection was cut, it never arrived') : undefined,
    );
    const arrow = h('button', { type: 'button', class: 'arrow', 'aria-pressed': 'false', tabindex: arrows.length === 0 ? '0' : '-1' }, label);
    arrow.addEventListener('click', () => select(arrow, event));
    arrows.push(arrow);
    const who = event.connection.device === undefined ? `#${event.connection.id}` : `#${event.connection.id} ${event.connection.device.split(' of ')[0]}`;
    const when = [since === undefined ? 'first' : `+${duration(since)}`];
    if (roundTrip !== undefined) when.push(roundTrip);
    if (event.lost) when.push('lost');
    return h(
      'li',
      { class: `packet ${event.direction}${event.lost ? ' lost' : ''}`, 'data-seq': event.seq, 'data-type': event.type },
      h('span', { class: 'who', 'aria-hidden': 'true' }, who),
      arrow,
      h('span', { class: 'when' }, when.join(', ')),
    );
  }

  function select(arrow, event) {
    if (selected !== undefined) selected.setAttribute('aria-pressed', 'false');
    selected = arrow;
    arrow.setAttribute('aria-pressed', 'true');
    for (const a of arrows) a.tabIndex = a === arrow ? 0 : -1;
    onSelect(event);
  }

  /** `round trip 1.2 ms` on the answer to a request this view saw go out. */
  function matchRoundTrip(event) {
    if (event.lost) return undefined; // it never arrived: no round trip, and the request still waits
    const f = event.fields;
    const c = event.connection.id;
    const opposite = event.direction === 'up' ? 'down' : 'up';
    const keys = {
      CONNECT: [`${c}:connect`],
      PINGREQ: [`${c}:ping`],
      SUBSCRIBE: [`${c}:sub:${f.packetId}`],
      UNSUBSCRIBE: [`${c}:unsub:${f.packetId}`],
      PUBLISH: f.qos > 0 ? [`${c}:pub:${event.direction}:${f.packetId}`] : [],
    }[event.type];
    if (keys !== undefined) {
      for (const key of keys) pending.set(key, event.t);
      return undefined;
    }
    const key = {
      CONNACK: `${c}:connect`,
      PINGRESP: `${c}:ping`,
      SUBACK: `${c}:sub:${f.packetId}`,
      UNSUBACK: `${c}:unsub:${f.packetId}`,
      PUBACK: `${c}:pub:${opposite}:${f.packetId}`,
    }[event.type];
    const sent = key === undefined ? undefined : pending.get(key);
    if (sent === undefined) return undefined;
    pending.delete(key);
    return `round trip ${duration(event.t - sent)}`;
  }

  function clear() {
    queue = [];
    timeline.replaceChildren();
    arrows = [];
    selected = undefined;
    trimmed = 0;
    lastT = undefined;
    pending.clear();
    historyNote.hidden = true;
  }

  /** Starts over: the server is a new one, numbering its events from 1 again. */
  function reset() {
    clear();
    lastSeq = 0;
  }

  function missed(count, limits) {
    if (count <= 0) return;
    historyNote.hidden = false;
    historyNote.textContent = `${count} earlier events are not shown: the server keeps only the last ${limits.events} (at most ${Math.round(limits.bytes / 1024)} KiB).`;
  }

  return { add, clear, reset, missed, get lastSeq() { return lastSeq; } };
}

function gap(ms) {
  // Taller for longer pauses, but never so tall that the session scrolls away.
  const rem = Math.min(6, 1.4 + Math.log10(ms / GAP_MS) * 1.6);
  const item = h('li', { class: 'gap' }, h('span', {}, `${duration(ms)} with nothing on the wire`));
  // Through the style object: the page's Content-Security-Policy refuses inline style attributes.
  item.style.height = `${rem.toFixed(2)}rem`;
  return item;
}

/** The key fields of a packet, as ` · QoS 1 · id 3 · /topic` pieces. */
function keyFields(event) {
  const f = event.fields;
  const parts = [];
  switch (event.type) {
    case 'CONNECT':
      parts.push(`clientId ${short(f.clientId, 36)}`, `keepalive ${f.keepalive} s`, `clean session ${f.clean ? 1 : 0}`);
      break;
    case 'CONNACK':
      parts.push(`return code ${f.returnCode}${f.returnCode === 0 ? ' (accepted)' : ' (refused)'}`, `session present ${f.sessionPresent ? 1 : 0}`);
      break;
    case 'PUBLISH':
      parts.push(`QoS ${f.qos}`);
      if (f.packetId !== undefined) parts.push(`id ${f.packetId}`);
      if (f.dup) parts.push(h('span', { class: 'dup' }, 'DUP 1'));
      if (f.retain) parts.push('RETAIN');
      parts.push(f.topic, `payload ${bytes(f.payloadBytes)}`);
      break;
    case 'SUBSCRIBE':
      parts.push(`id ${f.packetId}`, f.filters.map((s) => `${s.filter} (QoS ${s.qos})`).join(', '));
      break;
    case 'UNSUBSCRIBE':
      parts.push(`id ${f.packetId}`, f.filters.map((s) => s.filter).join(', '));
      break;
    case 'SUBACK':
      parts.push(`id ${f.packetId}`, `granted ${f.returnCodes.map((c) => (c === 0x80 ? 'failure' : `QoS ${c}`)).join(', ')}`);
      break;
    default:
      if (f.packetId !== undefined) parts.push(`id ${f.packetId}`);
  }
  return parts.flatMap((part) => [' · ', part]);
}

function short(text, max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function connectionText(event) {
  const who = `Connection #${event.connection.id}${event.connection.device === undefined ? '' : ` (${event.connection.device})`}`;
  switch (event.event) {
    case 'open':
      return `${who} is open: ${event.message}.`;
    case 'refused':
      return `${who} was refused: ${event.reason}: ${event.message}`;
    default:
      return `${who} ended: ${event.reason}: ${event.message}`;
  }
}
