// The page's wiring: the live feed (Server-Sent Events from /events), the demo's step buttons,
// and the three parts. Read the parts in session-view.js, dissector.js and signing-panel.js;
// mqtt-explain.js is generated: the library's explainer and codec, bundled for the browser.

import * as model from './mqtt-explain.js';
import { h, post } from './dom.js';
import { createDissector } from './dissector.js';
import { createSessionView } from './session-view.js';
import { createSigningPanel } from './signing-panel.js';

const $ = (selector) => document.querySelector(selector);

const dissector = createDissector(
  {
    form: $('#hex-form'),
    input: $('#hex-input'),
    examples: $('#examples'),
    error: $('#hex-error'),
    status: $('#dissection-status'),
    output: $('#dissection'),
  },
  model,
);

const view = createSessionView({
  timeline: $('#timeline'),
  historyNote: $('#history-note'),
  onSelect: (event) => {
    dissector.showPacket(event);
    // Where the dissector sits below the session (a narrow window), bring it into view.
    const title = $('#dissection h3');
    const { top, bottom } = title.getBoundingClientRect();
    if (top < 0 || bottom > window.innerHeight) title.scrollIntoView({ block: 'start' });
  },
});

// ---- The feed --------------------------------------------------------------------------------

const serverStatus = $('#server-status');
let instance;
const feed = new EventSource('events');
feed.addEventListener('hello', (message) => {
  const hello = JSON.parse(message.data);
  // A restarted server numbers its events from 1 again: what the page shows is from the old one.
  if (instance !== undefined && hello.instance !== instance) view.reset();
  instance = hello.instance;
  view.missed(hello.missed, hello.history.limits);
  serverStatus.textContent = `Connected to aliot web. The stand-in listens on ${hello.standIn}.`;
  showState(hello.state);
});
feed.addEventListener('state', (message) => showState(JSON.parse(message.data)));
feed.addEventListener('message', (message) => view.add(JSON.parse(message.data)));
feed.addEventListener('error', () => {
  serverStatus.textContent = 'The connection to aliot web is lost; trying again… (is aliot web still running?)';
});

// ---- The demo's steps ------------------------------------------------------------------------

const stepStatus = $('#step-status');
const stepButtons = [...document.querySelectorAll('button[data-step]')];
const runAll = $('#run-all');
let state = { device: 'none', subscribed: false, busy: undefined };
let runningAll = false;

/** Which steps make sense now; a disabled button says why in its title. */
function showState(next) {
  if (next === undefined) return;
  state = next;
  const connected = state.device === 'connected';
  for (const button of stepButtons) {
    const step = button.dataset.step;
    let why = '';
    if (step === 'connect') why = state.device === 'none' ? '' : 'the demo device is connected already';
    else if (step === 'disconnect') why = state.device === 'none' ? 'connect first' : '';
    else if (!connected) why = state.device === 'none' ? 'connect first' : `the demo device is ${state.device}`;
    else if ((step === 'post' || step === 'property-set') && !state.subscribed) why = 'subscribe first';
    if (state.busy !== undefined || runningAll) why = why || 'a step is running';
    button.disabled = why !== '';
    button.title = why;
    button.setAttribute('aria-busy', String(state.busy === step));
  }
  runAll.disabled = runningAll || state.busy !== undefined || state.device !== 'none';
  runAll.title = runAll.disabled && state.device !== 'none' ? 'it starts from the beginning: disconnect first' : '';
}

async function runStep(step) {
  const label = document.querySelector(`button[data-step="${step}"]`).textContent;
  stepStatus.textContent = `Running “${label}”…`;
  const { ok, answer } = await post(`api/steps/${step}`, {});
  stepStatus.textContent = ok ? `${label}: ${answer.result}` : `${label} failed: ${answer.error}`;
  return ok;
}

for (const button of stepButtons) button.addEventListener('click', () => runStep(button.dataset.step));

runAll.addEventListener('click', async () => {
  runningAll = true;
  showState(state);
  try {
    for (const button of stepButtons) {
      if (!(await runStep(button.dataset.step))) break;
      // A short pause, so that the steps stand apart on the timeline.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  } finally {
    runningAll = false;
    showState(state);
  }
});

$('#clear-view').addEventListener('click', () => view.clear());

// ---- Server facts: your own device, the signing presets ---------------------------------------

const info = await (await fetch('api/info')).json();

$('#own-device-body').replaceChildren(
  h('p', {}, `The stand-in listens on ${info.standIn.url} with TLS. Any MQTT 3.1.1 client can connect to it: trust the CA certificate in`),
  h('pre', {}, info.standIn.caFile),
  h(
    'p',
    {},
    `and sign in as device ${info.guest.deviceName} of product ${info.guest.productKey} (its secret, ${info.guest.deviceSecret}, is public like the stand-in itself), or as a device of your own added with aliot web --device PK:DN:SECRET. Its packets appear above as they happen. With aliot (from a clone: node dist/pkg/cli.js instead of aliot):`,
  ),
  h('pre', {}, info.commands.aliot),
  h('p', {}, 'With mosquitto_sub, using the credentials aliot sign makes (Client Identifier, User Name, Password):'),
  h('pre', {}, info.commands.mosquitto),
  h('p', {}, `Its session is drawn beside the demo device's, each arrow marked with its connection number and device name. Connecting as ${info.demoDevice.deviceName} while the demo device is connected makes the stand-in drop the older connection, as the platform does.`),
);

const signing = createSigningPanel(
  { form: $('#sign-form'), error: $('#sign-error'), result: $('#sign-result') },
  { workedExample: info.workedExample, demoDevice: info.demoDevice },
);
signing.fill(info.workedExample);
