/**
 * What `aliot demo gateway` says: the heading and explanation of each step, and how it shows
 * the clock sync's four times and the packed post. The flow itself is in demo-gateway.ts.
 */
import type { TimeSync } from '../device/index.js';
import { formatBytes } from './progress.js';

/** The names the demo's text and its flow share. */
export interface GatewayFacts {
  readonly gateway: { readonly productKey: string; readonly deviceName: string };
  readonly meterProduct: string;
  readonly meters: readonly string[];
  readonly clockBehindMs: number;
  readonly oldVersion: string;
  readonly newVersion: string;
  readonly firmwareRate: number;
  readonly progressStep: number;
}

export interface Step {
  readonly title: string;
  readonly why: string;
}

/** The steps in order, each with what it does and why. `port` is the stand-in's MQTT port. */
export function gatewaySteps(facts: GatewayFacts, port: number | string): Step[] {
  const { gateway, meterProduct, meters } = facts;
  const meterList = `${meters.slice(0, -1).join(', ')} and ${meters.at(-1)}`;
  return [
    {
      title: 'Start the platform stand-in',
      why: `The stand-in (startEmulator, see docs/emulator.md) listens on [::1] over TLS with a loopback test certificate and plays the platform's side of every step below. Its console holds product ${gateway.productKey}, open to dynamic registration, with its device ${gateway.deviceName}: added, not activated, so it has no DeviceSecret yet. It also holds ${meterList} of product ${meterProduct}, electricity meters on the gateway's RS-485 bus: they speak Modbus, not MQTT, so the gateway speaks for them, and they have no secrets yet either. An HTTPS server on the same address serves firmware files.`,
    },
    {
      title: "Register the gateway: its own DeviceSecret for its product's secret",
      why: `Every unit of a product can leave the factory with the same image: the ProductKey, the ProductSecret, and its own DeviceName. Dynamic registration trades them for the unit's own DeviceSecret. registerDeviceOverMqtt opens a TLS connection to [::1]:${port} whose CONNECT says authType=register in the clientId; its password is the HMAC of deviceName, productKey and a random value keyed with the ProductSecret, which itself never goes on the wire. The platform answers CONNACK 0, publishes the DeviceSecret on /ext/register (no SUBSCRIBE needed), and closes the connection. HTTPS does the same as a form ('aliot register'); MQTT is used here so that every byte of it can be shown. The platform hands a secret out only until the device first connects with it: a gateway stores it before anything else.`,
    },
    {
      title: 'Connect the gateway, and subscribe once for all its sub-devices',
      why: `connectGateway connects ${gateway.deviceName} as any device connects: CONNECT signed with the DeviceSecret it was just given, CONNACK 0. Then ONE SUBSCRIBE: the replies to the gateway's own requests, and filters with + in the productKey and deviceName levels (/sys/+/+/thing/service/# and the like) through which every sub-device's messages arrive. However many sub-devices log in later, the gateway subscribes to nothing more (docs/gateway.md, "One shared subscription set").`,
    },
    {
      title: 'Sync the clock: NTP over MQTT',
      why: `A gateway time-stamps its sub-devices' readings, so its clock must be right, and small boards often have no battery-backed clock. syncTime subscribes to the answer's topic on first use, then sends the gateway's time on /ext/ntp/.../request; the platform echoes it with the times it received the request and sent its answer; the gateway notes when the answer arrived. The platform's send time plus half the network's share of the round trip is the time now. The stand-in runs on this machine's clock, so the demo gives the gateway a clock ${(facts.clockBehindMs / 1000).toFixed(1)} s slow, as a board's may be after some days without a sync.`,
    },
    {
      title: 'Register three sub-devices through the gateway: thing.sub.register',
      why: `The meters have no network of their own and cannot register themselves. The gateway, authenticated already, registers them over its own connection: thing.sub.register names each by productKey and deviceName, and the reply carries each one's DeviceSecret (their product must have dynamic registration on; the stand-in treats every product so). No ProductSecret of the meters' product is needed on the gateway. Both messages go at QoS 1, so each has its PUBACK.`,
    },
    {
      title: "Add them to the gateway's topology: thing.topo.add, each signed with its own secret",
      why: `The topology is the platform's record of which gateway may speak for which devices. Each entry carries the meter's clientId, a timestamp, and sign: the HMAC of clientId, deviceName, productKey and timestamp keyed with that meter's own DeviceSecret, so the platform knows the gateway holds each meter's secret. A sign is as good as a password (whoever has it can add the meter to a gateway), so it is masked too. Up to 30 sub-devices go in one message.`,
    },
    {
      title: 'Log them in, all three in one batch: combine/batch_login',
      why: `Being in the topology is not being online: the platform takes a sub-device's messages once it has a session on its gateway's connection. combine/batch_login opens up to 50 at once, each signed again with its own secret and a fresh timestamp; the batch succeeds or fails as a whole. Session messages go at QoS 0, as the platform's page says: no PUBACK, the reply is the acknowledgement.`,
    },
    {
      title: 'Post for the gateway and all three meters in ONE message: thing.event.property.pack.post',
      why: `Instead of one PUBLISH and one reply per meter, the packed post carries the gateway's own properties and those of up to 20 sub-devices, each value with the time it was read (on the corrected clock), in one message with one reply. The whole message is shown below its packets.`,
    },
    {
      title: 'OTA: report the firmware version, receive an upgrade job',
      why: `createOta subscribes to the gateway's upgrade topic and reports the version it runs, ${facts.oldVersion}, on /ota/device/inform: the platform learns what each device runs from these reports. Then the cloud side (the demo here, an operator in the console on the platform) makes an upgrade job to ${facts.newVersion}: the platform pushes it on /ota/device/upgrade with the file's size, its SHA-256 digest and an HTTPS URL. The gateway acknowledges it (PUBACK) and, with autoDownload off, waits to be told to download.`,
    },
    {
      title: 'OTA: download over HTTPS, verify, report progress and the new version',
      why: `The file comes from the stand-in's HTTPS server on [::1], on a connection of its own (HTTP, not MQTT: its bytes are not traced here), written to a partial file and hashed as it arrives; the server sends ${formatBytes(facts.firmwareRate)}/s so the bar can be watched. The gateway reports progress on /ota/device/progress at QoS 0 (each time it has grown by ${facts.progressStep} % here, to keep the trace short; a lost report is overtaken by the next). Only when the size and the SHA-256 digest match the job's is the file renamed into place and 100 reported, at QoS 1. A gateway would then install the file and restart; the demo reports the new version at once: /ota/device/inform with ${facts.newVersion} is what makes the platform count the job SUCCEEDED.`,
    },
    {
      title: 'Log the meters out and disconnect',
      why: `combine/batch_logout tells the platform the meters are offline (QoS 0, answered with a reply); without it they would go offline with the gateway's connection anyway. end() then waits for outstanding acknowledgements and sends DISCONNECT, after which nothing may follow [MQTT-3.14.4-1].`,
    },
  ];
}

/** The four times of a clock sync, what the gateway computed from them, and the offset. */
export function timeSyncLines(sync: TimeSync): string {
  const rows: Array<[string, number, string]> = [
    ['deviceSendTime', sync.deviceSendTime, "the gateway's clock when the request left"],
    ['serverRecvTime', sync.serverRecvTime, "the platform's clock when the request arrived"],
    ['serverSendTime', sync.serverSendTime, "the platform's clock when the answer left"],
    ['deviceRecvTime', sync.deviceRecvTime, "the gateway's clock when the answer arrived"],
  ];
  const lines = rows.map(([name, ms, meaning]) => `    ${name}  ${ms}  ${new Date(ms).toISOString()}  ${meaning}`);
  const offset = `${sync.offset >= 0 ? '+' : ''}${sync.offset}`;
  lines.push(
    `    time   = (serverRecvTime + serverSendTime + deviceRecvTime - deviceSendTime) / 2 = ${sync.time}  ${new Date(sync.time).toISOString()}`,
    `    offset = time - deviceRecvTime = ${offset} ms: the gateway adds it to its clock from now on`,
    `    round trip ${sync.roundTrip} ms (the wait, less the platform's own time between receiving and sending)`,
  );
  return `${lines.join('\n')}\n`;
}

/** The packed post's payload as JSON under the step, and how many sub-devices it carries. */
export function packedPostLines(message: unknown): string {
  const subDevices = (message as { params?: { subDevices?: unknown } } | null)?.params?.subDevices;
  const count = Array.isArray(subDevices) ? subDevices.length : 0;
  return `    the message, in full:\n      ${outline(message, '      ')}\n    ${count} sub-devices in it\n`;
}

/** JSON with its first levels on lines of their own and anything deeper on one line: a sub-device a line. */
function outline(value: unknown, indent: string, depth = 0): string {
  if (depth > 2 || typeof value !== 'object' || value === null) return JSON.stringify(value);
  const inner = `${indent}  `;
  const items = Array.isArray(value)
    ? value.map((item) => `${inner}${outline(item, inner, depth + 1)}`)
    : Object.entries(value).map(([key, item]) => `${inner}${JSON.stringify(key)}: ${outline(item, inner, depth + 1)}`);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  return items.length === 0 ? `${open}${close}` : `${open}\n${items.join(',\n')}\n${indent}${close}`;
}
