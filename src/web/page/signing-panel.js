// The signing panel: the device triple in, the CONNECT credentials out, with every step between
// them shown. The server computes them with the library's own signCredentials (a browser has no
// HMAC-MD5, and the page should not carry a second implementation that could disagree).

import { h, post } from './dom.js';

/** Wait this long after the last keystroke before asking the server. */
const DEBOUNCE_MS = 150;

export function createSigningPanel({ form, error, result }, presets) {
  const field = (name) => form.querySelector(`#sign-${name}`);
  const noTimestamp = form.querySelector('#sign-no-timestamp');
  let timer;
  let asked = 0;

  form.addEventListener('input', () => {
    field('timestamp').disabled = noTimestamp.checked;
    clearTimeout(timer);
    timer = setTimeout(update, DEBOUNCE_MS);
  });
  form.addEventListener('submit', (event) => event.preventDefault());
  form.querySelector('#preset-example').addEventListener('click', () => fill(presets.workedExample));
  form.querySelector('#preset-demo').addEventListener('click', () => fill({ ...presets.demoDevice, clientId: '', timestamp: Date.now(), signMethod: 'hmacsha256', transport: 'tls' }));

  function fill(values) {
    for (const name of ['productKey', 'deviceName', 'deviceSecret', 'clientId', 'signMethod', 'transport']) field(name).value = values[name] ?? '';
    noTimestamp.checked = values.timestamp === null;
    field('timestamp').value = values.timestamp === null ? '' : String(values.timestamp);
    field('timestamp').disabled = noTimestamp.checked;
    update();
  }

  async function update() {
    const request = {
      productKey: field('productKey').value,
      deviceName: field('deviceName').value,
      deviceSecret: field('deviceSecret').value,
      clientId: field('clientId').value,
      timestamp: null,
      signMethod: field('signMethod').value,
      transport: field('transport').value,
    };
    if (!noTimestamp.checked) {
      const text = field('timestamp').value.trim();
      if (!/^\d+$/.test(text)) return fail('timestamp: give milliseconds since the epoch (digits only), or tick "leave it out"');
      request.timestamp = Number(text);
    }
    const mine = ++asked;
    const { ok, answer } = await post('api/sign', request);
    if (mine !== asked) return; // a newer request is under way
    if (!ok) return fail(answer.error);
    error.textContent = '';
    result.replaceChildren(view(answer, request, presets.workedExample));
  }

  function fail(message) {
    error.textContent = message;
    result.replaceChildren();
  }

  return { fill };
}

function view(steps, request, example) {
  const content = h('p', { class: 'content' }, steps.parameters.flatMap((p) => [h('span', { class: 'n' }, p.name), h('span', { class: 'v' }, p.value)]));
  const extension = steps.clientId.slice(steps.clientId.indexOf('|'));
  return h(
    'ol',
    {},
    h(
      'li',
      {},
      h('h3', {}, 'The signed parameters, sorted by name'),
      h('p', {}, 'clientId (the bare one, without the |…| extension), deviceName, productKey and, unless left out, timestamp. Sorted by name in plain character order.'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'name'), h('th', { scope: 'col' }, 'value'))), h('tbody', {}, steps.parameters.map((p) => h('tr', {}, h('td', {}, p.name), h('td', {}, p.value))))),
    ),
    h('li', {}, h('h3', {}, 'The content: each name, then its value, nothing between'), content, h('p', { class: 'visually-hidden' }, steps.content)),
    h(
      'li',
      {},
      h('h3', {}, `The password: HMAC-${steps.hash} of the content, keyed with the DeviceSecret`),
      h('p', {}, `Both the content and the secret as UTF-8 bytes; the digest written as upper-case hex (${steps.password.length} digits). The sign method ${steps.signMethod} is announced in the clientId so that the platform checks it the same way.`),
      h('p', { class: 'value', 'data-testid': 'password' }, steps.password),
      exampleCheck(steps, request, example),
    ),
    h(
      'li',
      {},
      h('h3', {}, 'What CONNECT carries'),
      h(
        'table',
        {},
        h(
          'tbody',
          {},
          h('tr', {}, h('th', { scope: 'row' }, 'Client Identifier'), h('td', { class: 'value' }, steps.clientId)),
          h('tr', {}, h('th', { scope: 'row' }, 'User Name'), h('td', { class: 'value' }, steps.username)),
          h('tr', {}, h('th', { scope: 'row' }, 'Password'), h('td', { class: 'value' }, steps.password)),
        ),
      ),
      h(
        'p',
        {},
        `The extension ${extension} tells the platform how to check: securemode=${steps.secureMode} (${steps.secureMode === 2 ? 'TLS' : 'plain TCP'}; it must match the transport used), signmethod=${steps.signMethod}` +
          (request.timestamp === null ? ', no timestamp' : `, the timestamp that was signed (the platform does not compare it with its clock)`) +
          '. The user name is deviceName&productKey.',
      ),
    ),
  );
}

/** With the worked example's inputs: does the result match what the platform's page prints? */
function exampleCheck(steps, request, example) {
  const same = ['productKey', 'deviceName', 'deviceSecret', 'clientId', 'timestamp', 'signMethod', 'transport'].every((k) => request[k] === example[k]);
  if (!same) return undefined;
  const matches = steps.password.startsWith(example.passwordPrefix);
  return h(
    'p',
    { class: matches ? 'match' : 'mismatch' },
    matches
      ? `✓ Begins with ${example.passwordPrefix}, as on the platform's page (which masks the last four characters).`
      : `✗ The platform's page prints a password beginning ${example.passwordPrefix}; this one does not.`,
  );
}
