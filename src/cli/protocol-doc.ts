/**
 * docs/protocol.md, generated from one real session against the local stand-in, so the document
 * shows the bytes this library actually sends and receives and cannot drift from them:
 * `scripts/gen-protocol-doc.mjs` writes it, and a test fails when the committed file differs
 * from what this function produces.
 *
 * Everything that would vary between runs is fixed: the device, its secret, the clientId and the
 * timestamp in it, the payloads. The port the stand-in listens on varies and is never shown.
 */
import { MqttClient } from '../client/client.js';
import { describePacket } from '../packet/describe.js';
import { startEmulator } from '../emulator/emulator.js';
import type { PacketEvent } from '../emulator/types.js';
import type { PacketType } from '../packet/types.js';
import { signCredentials } from '../sign/credentials.js';
import { explain, renderExplanation } from './explain.js';
import { MASKED_BYTE, maskPassword } from './hex.js';
import { wrapWords } from './text.js';

/** The document's device. Its secret is public on purpose: it opens nothing but a stand-in. */
export const DOC_DEVICE = Object.freeze({ productKey: 'a1DocsProd', deviceName: 'lamp', deviceSecret: 'docs-lamp-secret' });
/** 2023-11-14T22:13:20Z: any fixed value does, since the platform does not check it. */
export const DOC_TIMESTAMP = 1_700_000_000_000;
const CLIENT_ID = 'lamp-01';
const KEEPALIVE = 300;

const topics = {
  propertySet: `/sys/${DOC_DEVICE.productKey}/${DOC_DEVICE.deviceName}/thing/service/property/set`,
  user: `/${DOC_DEVICE.productKey}/${DOC_DEVICE.deviceName}/user/update`,
  propertyPost: `/sys/${DOC_DEVICE.productKey}/${DOC_DEVICE.deviceName}/thing/event/property/post`,
};
const QOS0_PAYLOAD = '{"temperature":21.5}';
const QOS1_PAYLOAD = '{"id":"1","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"}';

interface Step {
  readonly direction: PacketEvent['direction'];
  readonly type: PacketType;
  readonly title: string;
  readonly text: string;
}

/** The session in wire order, with what each packet is there for. */
const STEPS: readonly Step[] = [
  {
    direction: 'in',
    type: 'connect',
    title: 'CONNECT: the device asks to open a session',
    text: `Once TCP and TLS are up, the first packet on the connection must be CONNECT [MQTT-3.1.0-1]. Its fixed header is followed by the protocol name \`MQTT\` and level 4 (MQTT 3.1.1), the Connect Flags (here: a user name and a password follow, clean session), and the Keep Alive of ${KEEPALIVE} s, the longest the device promises to stay silent. The payload holds, in this order [MQTT-3.1.3-1], the Client Identifier, the User Name and the Password. For the platform the Client Identifier is the device's own id followed by the \`|securemode=2,signmethod=hmacsha256,timestamp=...|\` extension (securemode 2 because the transport is TLS), the User Name is \`deviceName&productKey\`, and the Password is the upper-case hex HMAC-SHA256, keyed with the device secret, of \`clientId${CLIENT_ID}deviceName${DOC_DEVICE.deviceName}productKey${DOC_DEVICE.productKey}timestamp${DOC_TIMESTAMP}\`. The secret itself never goes on the wire. The password is shown as \`[redacted]\` as everywhere in this project; \`aliot sign --client-id ${CLIENT_ID} --product-key ${DOC_DEVICE.productKey} --device-name ${DOC_DEVICE.deviceName} --device-secret ${DOC_DEVICE.deviceSecret} --timestamp ${DOC_TIMESTAMP}\` prints it.`,
  },
  {
    direction: 'out',
    type: 'connack',
    title: 'CONNACK: the platform accepts',
    text: 'The server answers CONNECT with CONNACK, always its first packet [MQTT-3.2.0-1]. Session Present is 0 because the device asked for a clean session, and return code 0 accepts the connection. A refusal (1 to 5) is followed by the server closing the connection; on the platform, 4 means the signature does not match and 5 a wrong or disabled device.',
  },
  {
    direction: 'in',
    type: 'subscribe',
    title: 'SUBSCRIBE: the device asks for its property sets',
    text: `SUBSCRIBE has the fixed flags 0010 [MQTT-3.8.1-1], a packet identifier the SUBACK will echo, then pairs of topic filter and requested QoS. The device asks for the topic on which the cloud sets its properties, at QoS 1 (at least once), the highest the platform offers.`,
  },
  {
    direction: 'out',
    type: 'suback',
    title: 'SUBACK: granted',
    text: 'One return code per filter, in order [MQTT-3.9.3-1]: the QoS granted (0, 1 or 2) or 0x80 for a refusal. Here QoS 1 is granted.',
  },
  {
    direction: 'in',
    type: 'publish',
    title: 'PUBLISH at QoS 0: fire and forget',
    text: `The device sends a reading on one of its custom topics at QoS 0: the fixed header's flags say DUP 0, QoS 0, RETAIN 0, and there is no packet identifier [MQTT-2.3.1-5], so nothing acknowledges it. The payload is whatever bytes the Remaining Length leaves after the topic; here the JSON text \`${QOS0_PAYLOAD}\`.`,
  },
  {
    direction: 'in',
    type: 'publish',
    title: 'PUBLISH at QoS 1: a property post',
    text: 'The device reports a property with an Alink request on its property post topic, at QoS 1: the flags say QoS 1, and a packet identifier follows the topic [MQTT-2.3.1-1]. The device keeps the message until the PUBACK with that identifier arrives, and would send it again (with DUP set) after a reconnect. The platform answers the Alink request separately, on the `post_reply` topic; this device did not subscribe to it, so that answer does not appear here.',
  },
  {
    direction: 'out',
    type: 'puback',
    title: 'PUBACK: the QoS 1 message arrived',
    text: 'PUBACK carries only the packet identifier of the PUBLISH it acknowledges [MQTT-4.3.2-2]; the identifier is then free for another message.',
  },
  {
    direction: 'in',
    type: 'pingreq',
    title: 'PINGREQ: are you there?',
    text: `A client must send a packet at least every Keep Alive seconds [MQTT-3.1.2-23]; with nothing else to say it sends PINGREQ, two bytes. The server may close a connection that stays silent for one and a half times the keepalive (section 3.1.2.10). Here the device pings at once rather than after ${KEEPALIVE} s.`,
  },
  {
    direction: 'out',
    type: 'pingresp',
    title: 'PINGRESP: yes',
    text: 'The server answers every PINGREQ with PINGRESP; a client that hears nothing back in reasonable time should close the connection and reconnect.',
  },
  {
    direction: 'in',
    type: 'disconnect',
    title: 'DISCONNECT: goodbye',
    text: 'The last packet of a clean end: the device sends nothing after it and closes the connection [MQTT-3.14.4-1, MQTT-3.14.4-2], and the server discards any will message.',
  },
];

/** Runs the session and returns what crossed the wire, in order. */
async function recordSession(): Promise<PacketEvent[]> {
  const emulator = await startEmulator({ devices: [{ ...DOC_DEVICE }], autoReplyPropertyPost: false });
  const events: PacketEvent[] = [];
  emulator.on('packet', (event) => events.push({ ...event, bytes: Uint8Array.from(event.bytes) }));
  const left = new Promise<void>((resolve) => emulator.once('disconnect', () => resolve()));
  const credentials = signCredentials({ ...DOC_DEVICE, clientId: CLIENT_ID, timestamp: DOC_TIMESTAMP, signMethod: 'hmacsha256', secureMode: 2 });
  const client = new MqttClient({
    host: '::1',
    port: emulator.port,
    family: 6,
    ca: emulator.ca,
    clientId: credentials.clientId,
    username: credentials.username,
    password: credentials.password,
    keepalive: KEEPALIVE,
    reconnect: false,
  });
  try {
    await client.connect();
    await client.subscribe(topics.propertySet, { qos: 1 });
    await client.publish(topics.user, QOS0_PAYLOAD, { qos: 0 });
    await client.publish(topics.propertyPost, QOS1_PAYLOAD, { qos: 1 });
    await client.ping();
    await client.end();
    await left;
  } finally {
    await client.end({ force: true });
    await emulator.close();
  }
  return events;
}

/** Hex lines of 16 bytes, the password's bytes as `**`. */
function wireHex(event: PacketEvent): string {
  const shown = maskPassword(event.bytes, event.packet).map((b) => (b === MASKED_BYTE ? '**' : b.toString(16).padStart(2, '0')));
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += 16) lines.push(shown.slice(i, i + 16).join(' '));
  return lines.join('\n');
}

/** The text of docs/protocol.md. Throws when the session's packets are not the expected ones. */
export async function protocolDoc(): Promise<string> {
  const events = await recordSession();
  const seen = events.map((e) => `${e.direction} ${e.packet.type}`);
  const expected = STEPS.map((s) => `${s.direction} ${s.type}`);
  if (seen.join() !== expected.join()) {
    throw new Error(`the session sent ${seen.join(', ')}; the document explains ${expected.join(', ')}: update STEPS`);
  }
  const who = (direction: PacketEvent['direction']): string => (direction === 'in' ? 'device → platform' : 'platform → device');
  const out: string[] = [
    '# MQTT 3.1.1, byte by byte: one real session',
    '',
    '<!-- Generated by scripts/gen-protocol-doc.mjs (npm run docs) from a session against the local',
    '     stand-in. Do not edit by hand: test/cli/protocol-doc.test.ts fails when this file differs',
    '     from what the generator produces. -->',
    '',
    reflow(`A device connects to the local platform stand-in (\`startEmulator\`, see [emulator.md](emulator.md))
over TLS on the IPv6 loopback, subscribes, publishes at QoS 0 and QoS 1, pings and disconnects.
Every packet below is the frame that actually crossed the wire, taken from the stand-in's
\`packet\` events, and dissected by the same code as \`aliot explain\`. The device is
\`${DOC_DEVICE.deviceName}\` of product \`${DOC_DEVICE.productKey}\` with the device secret
\`${DOC_DEVICE.deviceSecret}\` (a public value for this document only), its clientId is
\`${CLIENT_ID}\` and the signing timestamp is fixed at ${DOC_TIMESTAMP}, so the bytes are the same on
every run.`),
    '',
    reflow(`How to read a dissection: each row gives a field's byte **offset** in the packet, its **bytes**
in hex (cut with \`…\` when long), its **name** as the specification names it, its decoded
**value**, and the **spec** section that defines it with the normative statement ids where they
apply. The indented line under a row says what the field means; rows of bits (\`.... ..1.\`) take a
flags byte apart, and rows like \`1 0001010\` take the Remaining Length apart byte by byte (seven
bits a byte, least significant first, the top bit saying another byte follows). Run
\`aliot explain <hex>\` on any bytes to get the same for your own packets, or \`aliot demo\` to watch
a fuller session live.`),
    '',
    '| # | direction | packet | bytes |',
    '| --- | --- | --- | --- |',
    ...events.map((e, i) => `| ${i + 1} | ${who(e.direction)} | [${STEPS[i]!.type.toUpperCase()}](#${i + 1}-${anchor(STEPS[i]!.title)}) | ${e.bytes.length} |`),
  ];
  events.forEach((event, i) => {
    const step = STEPS[i]!;
    out.push(
      '',
      `## ${i + 1}. ${step.title}`,
      '',
      reflow(`*${who(event.direction)}, ${event.bytes.length} bytes.* ${step.text}`),
      '',
      '```text',
      wireHex(event),
      '```',
      '',
      '```text',
      renderExplanation(explain(event.bytes)).trimEnd(),
      '```',
    );
  });
  out.push(
    '',
    '## What the platform adds to MQTT',
    '',
    reflow(`Nothing in these bytes is specific to Alibaba Cloud except their content: the clientId
extension, the \`deviceName&productKey\` user name, the HMAC password, the \`/sys/{productKey}/{deviceName}/...\`
topics and the Alink JSON payloads. The platform also narrows MQTT: QoS 0 and 1 only, no retained
and no will messages, a keepalive of 30 to 1200 s. See [credentials.md](credentials.md) for the
signature and the limits the client checks before anything is sent.`),
    '',
    '## Watching a session yourself',
    '',
    reflow(`\`aliot demo\` runs a fuller session than this one (property post and reply, a property set from
the cloud and the device's answer) against the stand-in and prints every packet as it crosses the
wire; \`aliot demo --explain\` adds the dissections. \`aliot explain <hex>\` dissects any bytes, for
example a frame copied from Wireshark. \`aliot emulator --trace\` runs the stand-in for other tools
and prints what they send, and \`aliot pub -d\` / \`aliot sub -d\` print the packets of their own
session on stderr.`),
    '',
    reflow(`Inside any program that uses the library, set \`NODE_DEBUG=aliot\` in the environment and the
client writes a one-line summary of every packet it sends (\`->\`) and receives (\`<-\`) to stderr
through Node's \`util.debuglog\`, passwords shown as their length only:`),
    '',
    '```text',
    '$ NODE_DEBUG=aliot node my-device.js',
    // The library's own summaries of this session's first packets, so the sample cannot go stale.
    ...events.slice(0, 4).map((e) => `ALIOT 12345: ${e.direction === 'in' ? '->' : '<-'} ${describePacket(e.packet)}`),
    '...',
    '```',
    '',
    reflow(`The \`aliot\` commands that connect leave that trace to the library when \`NODE_DEBUG=aliot\` is set:
\`pub -d\` and \`sub -d\` then print nothing of their own, so no packet is shown twice, and
\`aliot demo\` keeps its annotated trace on stdout while the library's goes to stderr.`),
    '',
  );
  return out.join('\n');
}

/** `text` with its white space collapsed and wrapped at 100 columns, as Markdown source. */
function reflow(text: string): string {
  return wrapWords(text, 100).join('\n');
}

/** The anchor GitHub gives a heading: lower case, spaces to dashes, most punctuation dropped. */
function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}
