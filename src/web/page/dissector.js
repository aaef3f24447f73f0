// The dissector: bytes in, a table of fields out. What the fields are and whether the bytes are
// valid comes from mqtt-explain.js, which is `aliot explain` itself bundled for the browser; this
// file only lays its answer out: a strip of the bytes coloured by field, then one table row per
// field with the bits of flag bytes drawn, and the decoder's error at the byte it stopped at.

import { bytes as byteCount, h } from './dom.js';

/** Hex shown in the table's bytes column before it is cut (the strip above shows them all). */
const HEX_CELL_BYTES = 24;

export function createDissector({ form, input, examples, error, status, output }, model) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    showHex(input.value);
  });
  examples.addEventListener('change', () => {
    if (examples.value === '') return;
    input.value = examples.value;
    showHex(input.value);
  });

  /** Dissects pasted hex, or says what is wrong with it next to the box. */
  function showHex(text) {
    const reading = model.readHex(text);
    if (!reading.ok) {
      input.setAttribute('aria-invalid', 'true');
      error.textContent = `${reading.message}${reading.hint === undefined ? '' : `: ${reading.hint}`}`;
      return;
    }
    input.removeAttribute('aria-invalid');
    error.textContent = '';
    if (reading.bytes.length === 0) {
      error.textContent = 'no bytes to dissect: give at least one, e.g. c0 00';
      return;
    }
    render(reading.bytes, { masked: new Set(), title: 'Pasted bytes' });
  }

  /** Dissects a packet from the session view; its masked password bytes stay masked. */
  function showPacket(event) {
    const masked = new Set();
    const frame = new Uint8Array(event.hex.length / 2);
    for (let i = 0; i < frame.length; i++) {
      const pair = event.hex.slice(2 * i, 2 * i + 2);
      if (pair === '**') masked.add(i); // the bytes stay 0: the dissection shows the field as redacted anyway
      else frame[i] = parseInt(pair, 16);
    }
    const from = event.direction === 'up' ? 'from the device' : 'from the platform';
    render(frame, {
      masked,
      title: `Packet ${event.seq}: ${event.type} ${from}${event.lost ? ' (lost on the way)' : ''}`,
      truncated: event.truncated ? event.size : undefined,
    });
  }

  function render(frame, { masked, title, truncated }) {
    const explanation = model.dissect(frame);
    const parts = [h('h3', { tabindex: '-1', class: 'dissection-title' }, title)];
    if (truncated !== undefined) {
      parts.push(h('p', { class: 'truncated' }, `The page keeps only the first ${byteCount(frame.length)} of a packet; this one has ${byteCount(truncated)}, so its end shows as cut short.`));
    }
    for (const packet of explanation.packets) parts.push(...packetView(packet, frame, masked, explanation.byteLength));
    output.replaceChildren(...parts);
    const problem = explanation.problem;
    const what = explanation.packets.map((p) => (p.type === undefined ? 'a reserved type' : p.type.toUpperCase())).join(', ');
    status.textContent =
      `${what}, ${byteCount(frame.length)}: ` +
      (problem === undefined ? 'the decoder accepts it.' : `the decoder refuses it at byte ${problem.offset ?? '?'} (${problem.code}).`);
  }

  return { showHex, showPacket };
}

function packetView(packet, frame, masked, total) {
  const name = packet.type === undefined ? 'RESERVED' : packet.type.toUpperCase();
  const end = packet.offset + Math.max(packet.length, 1) - 1;
  const heading = h('h3', {}, `#${packet.index} ${name}`);
  const purpose = h('p', { class: 'purpose' }, `${packet.direction}: ${packet.purpose}. Section ${packet.section}; ${byteCount(packet.length)}, bytes ${packet.offset} to ${end} of ${total}.`);
  const strip = byteStrip(packet, frame, masked, total);
  const table = fieldTable(packet, strip);
  return [heading, purpose, strip, table];
}

/** The packet's bytes, coloured by field, the offending byte marked; a picture of the table below. */
function byteStrip(packet, frame, masked, total) {
  const strip = h('div', { class: 'bytes', 'aria-hidden': 'true' });
  const bad = packet.problem?.offset;
  // Up to the end of the frame, or of the input when the frame runs past it.
  const stop = Math.min(total, Math.max(packet.offset + packet.length, bad === undefined ? 0 : Math.min(bad + 1, total)));
  for (let i = packet.offset; i < stop; i++) {
    const field = packet.fields.findIndex((f) => i >= f.offset && i < f.offset + f.length);
    const classes = [field < 0 ? 'unread' : `f${field % 2}`];
    if (masked.has(i)) classes.push('masked');
    if (i === bad) classes.push('bad');
    const span = h('span', { class: classes.join(' '), title: `byte ${i}`, 'data-field': field < 0 ? undefined : field }, masked.has(i) ? '**' : frame[i].toString(16).padStart(2, '0'));
    strip.append(span);
  }
  if (bad !== undefined && bad >= total) strip.append(h('span', { class: 'end-marker' }, '⚠ the bytes end here'));
  return strip;
}

function fieldTable(packet, strip) {
  const name = packet.type === undefined ? 'RESERVED' : packet.type.toUpperCase();
  const body = h('tbody');
  const bad = packet.problem?.offset;
  packet.fields.forEach((field, index) => {
    const isBad = bad !== undefined && bad >= field.offset && bad < field.offset + Math.max(field.length, 1);
    const row = h(
      'tr',
      { class: `field${isBad ? ' bad' : ''}`, 'data-field': index },
      h('td', { class: 'offset' }, String(field.offset)),
      h('td', { class: 'hex' }, hexCell(field.hex)),
      h('td', { class: 'name' }, field.name, isBad ? h('span', { class: 'visually-hidden' }, ' (the decoder stopped here)') : undefined),
      h('td', { class: 'value' }, h('span', { class: 'v' }, field.value), h('span', { class: 'meaning' }, field.meaning)),
      h('td', { class: 'spec' }, spec(field.spec)),
    );
    linkHighlight(row, strip, index);
    body.append(row);
    if (field.parts.length > 0) body.append(h('tr', { class: 'parts' }, h('td'), h('td', { colspan: '4' }, bitsView(field.parts))));
  });
  const problem = packet.problem;
  if (problem !== undefined) {
    const at = problem.offset === undefined ? '' : ` at byte ${problem.offset}`;
    body.append(
      h(
        'tr',
        { class: 'problem' },
        h('td', { class: 'offset' }, problem.offset === undefined ? '' : String(problem.offset)),
        h('td', { colspan: '4' }, `Error ${problem.code}${at}: ${problem.detail}`, problem.statement === undefined ? '' : ` (${problem.statement})`),
      ),
    );
  }
  return h(
    'table',
    { class: 'fields' },
    h('caption', {}, `Fields of #${packet.index} ${name}`),
    h('thead', {}, h('tr', {}, ['Offset', 'Bytes', 'Field', 'Value and meaning', 'Spec'].map((t) => h('th', { scope: 'col' }, t)))),
    body,
  );
}

/** Pointing at a row marks its bytes in the strip, and the other way round. */
function linkHighlight(row, strip, index) {
  const spans = () => strip.querySelectorAll(`span[data-field="${index}"]`);
  const on = () => {
    row.classList.add('hot');
    for (const s of spans()) s.classList.add('hot');
  };
  const off = () => {
    row.classList.remove('hot');
    for (const s of spans()) s.classList.remove('hot');
  };
  row.addEventListener('mouseenter', on);
  row.addEventListener('mouseleave', off);
  strip.addEventListener('mouseover', (event) => (event.target.dataset?.field === String(index) ? on() : off()));
}

function hexCell(hex) {
  if (hex === '') return '(none)';
  if (hex.startsWith('[')) return hex; // a redaction note, e.g. [44 bytes redacted]
  const pairs = hex.split(' ');
  return pairs.length <= HEX_CELL_BYTES ? hex : `${pairs.slice(0, HEX_CELL_BYTES).join(' ')} … (${pairs.length} bytes)`;
}

/** `3.1.2.10 [MQTT-3.1.2-23]` as `§3.1.2.10` and the statement ids as code. */
function spec(text) {
  if (text === '') return '';
  const match = /^(\S+)(?:\s+\[(.*)\])?$/.exec(text);
  if (match === null) return text;
  const ids = match[2] === undefined ? [] : match[2].split(/,\s*/);
  if (ids.length === 0) return `§${match[1]}`;
  return [`§${match[1]} [`, ids.flatMap((id, i) => [i === 0 ? '' : ', ', h('code', {}, id)]), ']'];
}

/**
 * The bits of a flag byte, drawn: eight boxes, bit 7 on the left, each coloured by the part it
 * belongs to. Parts that share no bit (type, DUP, QoS, RETAIN) share one drawing; parts that are
 * whole bytes (the Remaining Length's) get one each. The list below the drawing says it in words.
 */
function bitsView(parts) {
  const patterns = parts.map((p) => p.bits.replace(/ /g, ''));
  const drawable = patterns.every((p) => /^[01.]{8}$/.test(p));
  const overlap = drawable && [0, 1, 2, 3, 4, 5, 6, 7].some((i) => patterns.filter((p) => p[i] !== '.').length > 1);
  const drawings = [];
  if (drawable && !overlap) drawings.push(bitfield(patterns, patterns.map((_, i) => i)));
  if (drawable && overlap) patterns.forEach((p, i) => drawings.push(bitfield([p], [i])));
  const list = h(
    'ul',
    { class: 'parts' },
    parts.map((part, i) =>
      h(
        'li',
        {},
        drawable ? h('span', { class: `swatch p${(overlap ? 0 : i) % 4}`, 'aria-hidden': 'true' }) : undefined,
        h('span', { class: 'bits' }, part.bits),
        h('strong', {}, part.name),
        `: ${part.value}`,
        part.spec === '' ? '' : [' (', spec(part.spec), ')'],
      ),
    ),
  );
  return [...drawings, list];
}

function bitfield(patterns, colours) {
  const grid = h('div', { class: 'bitfield', 'aria-hidden': 'true' });
  for (let bit = 7; bit >= 0; bit--) grid.append(h('span', { class: 'index' }, String(bit)));
  for (let i = 0; i < 8; i++) {
    const owner = patterns.findIndex((p) => p[i] !== '.');
    const value = owner < 0 ? '·' : patterns[owner][i];
    grid.append(h('span', { class: `bit ${owner < 0 ? 'none' : `p${colours[owner] % 4}`}` }, value));
  }
  return grid;
}
