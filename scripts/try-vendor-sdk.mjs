#!/usr/bin/env node
// The vendor's own Node.js SDK (npm alibabacloud-iot-device-sdk 1.2.8, MQTT.js 3 underneath)
// against the stand-in, as a user would run it: a device, a gateway with a sub-device, dynamic
// registration over HTTPS. One line per check:
//   pass   the SDK and the stand-in agree
//   sdk    the SDK does what the platform's documentation says it must not; the stand-in answers
//          as the platform does (docs/emulator.md, "The vendor's Node.js SDK against the stand-in")
//   FAIL   anything else: a disagreement nobody has looked at yet (exit code 1)
//
//   npm run try:vendor-sdk          (builds, then runs this)
//   node scripts/try-vendor-sdk.mjs [--slow]    (--slow adds a 70 s keepalive check)
//
// The SDK is installed into .bench/vendor-sdk/ (never a dependency of the package) on first use:
// a prefix of its own, so that it and `npm run bench:compare`'s MQTT.js in .bench/ do not remove each other. It passes
// no CA to MQTT.js or axios, so this script runs itself again with NODE_EXTRA_CA_CERTS set to
// the loopback CA, as a user pointing the SDK at the stand-in would. Everything stays on [::1].
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const SDK = 'alibabacloud-iot-device-sdk@1.2.8';
const root = fileURLToPath(new URL('..', import.meta.url));
const bench = `${root}.bench/vendor-sdk/`;
const loopbackCa = `${root}certs/loopback/ca.pem`;

if (process.env.NODE_EXTRA_CA_CERTS !== loopbackCa) {
  if (!existsSync(`${bench}node_modules/alibabacloud-iot-device-sdk/package.json`)) {
    console.log(`installing ${SDK} into .bench/vendor-sdk/ (not a dependency of the package)`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const installed = spawnSync(npm, ['install', '--prefix', bench, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', SDK], { stdio: 'inherit' });
    if (installed.status !== 0) process.exit(installed.status ?? 1);
  }
  if (!existsSync(`${root}dist/pkg/emulator.js`)) {
    console.error('dist/ is missing: run `npm run build` first (or `npm run try:vendor-sdk`)');
    process.exit(1);
  }
  const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: loopbackCa },
  });
  process.exit(run.status ?? 1);
}

const { startEmulator } = await import(new URL('../dist/pkg/emulator.js', import.meta.url).href);
const iot = createRequire(bench)('alibabacloud-iot-device-sdk');

const LAMP = { productKey: 'a1VendorDev', deviceName: 'lamp', deviceSecret: 'lamp-secret-0001' };
const GATEWAY = { productKey: 'a1VendorGw', deviceName: 'gw1', deviceSecret: 'gw-secret-0001' };
const METER = { productKey: 'a1VendorSub', deviceName: 'meter1', deviceSecret: 'meter-secret-0001' };
const FRESH = { productKey: 'a1VendorSub', deviceName: 'meter2', deviceSecret: '' }; // registered, not activated
const LAMP2 = { productKey: 'a1VendorDev', deviceName: 'lamp2', deviceSecret: 'lamp2-secret-0001' };
const NEW = { productKey: 'a1VendorReg', deviceName: 'newdev', deviceSecret: '' };
const NEW2 = { productKey: 'a1VendorReg', deviceName: 'newdev2', deviceSecret: '' };
const PRODUCT = { productKey: 'a1VendorReg', productSecret: 'product-secret-0001' };

const devices = [LAMP, LAMP2, GATEWAY, METER, FRESH, NEW, NEW2];
const emulator = await startEmulator({ devices, products: [PRODUCT, { productKey: 'a1VendorSub', productSecret: 'sub-product-0001' }], httpPort: 0 });
const plain = await startEmulator({ devices, tls: false });
const url = `mqtts://[::1]:${emulator.port}`;
console.log(`${SDK} against the stand-in at ${url} (HTTPS ${emulator.https.url}, plain TCP port ${plain.port})`);

/** What the stand-in saw: CONNECTs, refusals, sessions resumed. */
const seen = { connects: [], refusals: [], sessions: [] };
for (const e of [emulator, plain]) {
  e.on('packet', ({ direction, packet }) => {
    if (direction === 'in' && packet.type === 'connect') seen.connects.push(packet.clientId);
  });
  e.on('refuse', (event) => seen.refusals.push(event));
  e.on('session', (event) => seen.sessions.push(event));
}

let unexpected = 0;
const hide = (text) => String(text).replace(/"deviceSecret":"[^"]*"/g, '"deviceSecret":"[redacted]"');
/** Runs one check. `deviation`: the documented way the SDK departs from the platform, when it does. */
async function check(name, run, deviation) {
  try {
    const detail = await run();
    if (deviation !== undefined) {
      unexpected += 1;
      console.log(`FAIL  ${name}: passed, but the SDK was expected to deviate (${deviation.why}); look again`);
    } else {
      console.log(`pass  ${name}${detail === undefined ? '' : `: ${hide(detail)}`}`);
    }
  } catch (error) {
    const reason = hide(error instanceof Error ? error.message : JSON.stringify(error));
    if (deviation !== undefined && deviation.match.test(reason)) {
      console.log(`sdk   ${name}: ${reason} (${deviation.why})`);
    } else {
      unexpected += 1;
      console.log(`FAIL  ${name}: ${reason}`);
    }
  }
}
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function within(ms, what, executor) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    executor(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
/** An SDK callback's reply: resolves with a summary when its code is 200. */
function replied(what, call) {
  return within(3000, `${what} reply`, (resolve, reject) =>
    call((res) => (res && res.code === 200 ? resolve(`code 200, id ${JSON.stringify(res.id)}`) : reject(new Error(`${what}: ${JSON.stringify(res)}`)))),
  );
}
function connected(thing) {
  return within(5000, 'connect', (resolve, reject) => {
    thing.once('connect', () => resolve());
    thing.once('error', (args) => reject(new Error(String(Array.isArray(args) ? args[0] : args))));
  });
}
async function reply(promise) {
  const answer = await promise;
  if (answer.code !== 200) throw new Error(`answered ${JSON.stringify(answer)}`);
  return `code 200, id ${JSON.stringify(answer.id)}`;
}

/** Posts, a property set and a service call: the thing model, for a device or a sub-device. */
async function thingModelChecks(who, thing, { productKey, deviceName }, service) {
  await check(`${who} postProps gets its post_reply`, () => replied('postProps', (cb) => thing.postProps({ Power: 3.5 }, cb)));
  await check(`${who} postEvent gets its post_reply`, () => replied('postEvent', (cb) => thing.postEvent('Alarm', { Level: 2 }, cb)));
  await check(`property set to the ${who} reaches onProps, answered on set_reply`, () => {
    thing.onProps((res) => thing.publish(`/sys/${productKey}/${deviceName}/thing/service/property/set_reply`, JSON.stringify({ id: res.id, code: 200, data: {} })));
    return reply(emulator.sendPropertySet(productKey, deviceName, { Power: 0 }, 3000));
  });
  await check(`service call to the ${who} reaches onService, answered with the request id`, async () => {
    thing.onService(service, (res, answer) => answer({ id: res.id, code: 200, data: {} }));
    await pause(300);
    return reply(emulator.callService(productKey, deviceName, service, {}, 3000));
  });
}

// ---- a device ----
const lamp = iot.device({ ...LAMP, brokerUrl: url });
await check('device connects (hmacsha1, securemode=2, timestamp, lan=NodeJS,_v=1.2.8)', async () => {
  await connected(lamp);
  return seen.connects.at(-1).replace(/timestamp=\d+/, 'timestamp=…');
});
await pause(300); // the SDK's 16 SUBSCRIBEs, sent on connect without waiting
await thingModelChecks('device', lamp, LAMP, 'Reboot');
await check(
  'a second onService on the same device gets its calls',
  async () => {
    lamp.onService('Blink', (res, answer) => answer({ id: res.id, code: 200, data: {} }));
    await pause(300);
    return reply(emulator.callService(LAMP.productKey, LAMP.deviceName, 'Blink', {}, 3000));
  },
  { match: /no subscription matching/, why: 'lib/thing.js onService subscribes only for the first service it is given; on the platform the call would not arrive either' },
);
await check(
  "service answered as the SDK's README shows (reply without id)",
  async () => {
    // README: reply({ code: 200, data }) — the id "may be left out, it is generated". The SDK's
    // generator is its own message counter, so the reply carries some other id than the call's.
    const other = iot.device({ ...LAMP2, brokerUrl: url });
    await connected(other);
    other.onService('Reset', (res, answer) => answer({ code: 200, data: {} }));
    await pause(300);
    try {
      return await reply(emulator.callService(LAMP2.productKey, LAMP2.deviceName, 'Reset', {}, 1500));
    } finally {
      other.end(true);
    }
  },
  { match: /did not answer thing\.service\.Reset/, why: "the SDK's reply carries its own counter as id, not the request's; the platform's reply format is the request's id" },
);
await check('synchronous service over RRPC, answered with reply(..., "sync")', async () => {
  lamp.onService('Sync', (res, answer) => answer({ id: res.id, code: 200, data: {} }, 'sync'));
  await pause(300);
  const request = JSON.stringify({ id: '4711', version: '1.0', params: {}, method: 'thing.service.Sync' });
  const answer = JSON.parse(Buffer.from(await emulator.rrpc(LAMP.productKey, LAMP.deviceName, request, 3000)).toString());
  if (answer.id !== '4711' || answer.code !== 200) throw new Error(`answered ${JSON.stringify(answer)}`);
  return 'code 200 on rrpc/response';
});
await check('postTags and deleteTags get their replies', async () => {
  await replied('postTags', (cb) => lamp.postTags([{ attrKey: 'Room', attrValue: 'Kitchen' }], cb));
  return replied('deleteTags', (cb) => lamp.deleteTags(['Room'], cb));
});
await check('getConfig gets the product configuration file', async () => {
  await emulator.publishConfig(LAMP.productKey, 'Interval=60\n');
  return within(3000, 'getConfig reply', (resolve, reject) =>
    lamp.getConfig((res) => (res.code === 200 && res.data.getType === 'file' ? resolve(`configSize ${res.data.configSize}, ${res.data.signMethod}`) : reject(new Error(JSON.stringify(res))))),
  );
});
await check('config push reaches onConfig once, answered on push_reply', async () => {
  let calls = 0;
  lamp.onConfig((res) => {
    calls += 1;
    lamp.publish(`/sys/${LAMP.productKey}/${LAMP.deviceName}/thing/config/push_reply`, JSON.stringify({ id: res.id, code: 200, data: {} }));
  });
  const detail = await reply(emulator.pushConfig(LAMP.productKey, LAMP.deviceName, undefined, 3000));
  await pause(300);
  lamp.onConfig(() => {});
  if (calls !== 1) throw new Error(`onConfig called ${calls} times in 300 ms: the device got its own push_reply back`);
  return detail;
});
await check('shadow: postShadow, then getShadow, reach onShadow', async () => {
  const answers = [];
  await within(3000, 'shadow replies', (resolve) => {
    lamp.onShadow((res) => {
      answers.push(res);
      if (answers.length === 2) resolve();
    });
    lamp.postShadow({ Temperature: 21 });
    setTimeout(() => lamp.getShadow(), 100);
  });
  const state = answers[1].payload.state;
  if (answers[0].payload.status !== 'success' || state.reported.Temperature !== 21) throw new Error(JSON.stringify(answers));
  return 'reported Temperature 21';
});
await check('custom topic: the stand-in publishes, the device subscribed', async () => {
  const topic = `/${LAMP.productKey}/${LAMP.deviceName}/user/get`;
  lamp.subscribe(topic);
  await pause(200);
  return within(3000, 'message', (resolve) => {
    lamp.on('message', (at, payload) => at === topic && resolve(payload.toString()));
    void emulator.publish(topic, 'hello');
  });
});
await check('Clean Session 0 (the SDK default): reconnecting resumes the session', async () => {
  await within(3000, 'end', (resolve) => lamp.end(false, resolve));
  const again = iot.device({ ...LAMP, brokerUrl: url });
  await connected(again);
  again.end(true);
  const resumed = seen.sessions.filter((s) => s.action === 'resumed' && s.deviceName === LAMP.deviceName);
  if (resumed.length === 0) throw new Error('no session resumed');
  return resumed.at(-1).message;
});
for (const algorithm of ['md5', 'sha256']) {
  await check(
    `device connects with signAlgorithm '${algorithm}'`,
    async () => {
      const device = iot.device({ ...LAMP, brokerUrl: url, signAlgorithm: algorithm });
      try {
        await connected(device);
      } finally {
        device.end(true);
      }
    },
    { match: /Bad username or password/, why: `lib/utils.js hmacSign always computes HMAC-SHA1 but the clientId announces hmac${algorithm}; the platform checks the announced method (CONNACK 4)` },
  );
}
await check('device connects over plain TCP (securemode=3) with its own clientId', async () => {
  const device = iot.device({ ...LAMP, brokerUrl: `mqtt://[::1]:${plain.port}`, clientId: 'SN0001' });
  try {
    await connected(device);
    return await replied('postProps', (cb) => device.postProps({ LightSwitch: 1 }, cb));
  } finally {
    device.end(true);
  }
});
if (process.argv.includes('--slow')) {
  await check('stays connected over two keepalive periods (keepalive 30)', async () => {
    const device = iot.device({ ...LAMP, brokerUrl: url, keepalive: 30 });
    await connected(device);
    await pause(70_000);
    const alive = device.connected;
    device.end(true);
    if (!alive) throw new Error('disconnected');
  });
}

// ---- a gateway and a sub-device ----
const gateway = iot.gateway({ ...GATEWAY, brokerUrl: url });
await check('gateway connects', () => connected(gateway));
await pause(300);
await check('getTopo (empty)', () => replied('getTopo', (cb) => gateway.getTopo(cb)));
await check('addTopo (hmacsha1 sign, numeric timestamp)', () => replied('addTopo', (cb) => gateway.addTopo([{ ...METER }], cb)));
let meter;
await check('login (no cleanSession, "method":"")', () => replied('login', (cb) => (meter = gateway.login({ ...METER }, cb))));
await pause(300);
await thingModelChecks('sub-device', meter, METER, 'Reset');
await check('logout', () => replied('logout', (cb) => gateway.logout({ productKey: METER.productKey, deviceName: METER.deviceName }, cb)));
await check('removeTopo', () => replied('removeTopo', (cb) => gateway.removeTopo([{ productKey: METER.productKey, deviceName: METER.deviceName }], cb)));
await check('regiestSubDevice mints a secret for a registered sub-device', () =>
  within(3000, 'register reply', (resolve, reject) =>
    gateway.regiestSubDevice({ productKey: FRESH.productKey, deviceName: FRESH.deviceName }, (res) =>
      res.code === 200 && typeof res.data[0].deviceSecret === 'string' ? resolve('code 200, a deviceSecret') : reject(new Error(JSON.stringify(res))),
    ),
  ),
);
gateway.end(true);

// ---- dynamic registration over HTTPS ----
const registerURL = `${emulator.https.url}/auth/register/device`;
let registered;
await check('register over HTTPS (hmacsha1), then connect with the secret', async () => {
  const res = await within(5000, 'register answer', (resolve) => iot.register({ productKey: PRODUCT.productKey, productSecret: PRODUCT.productSecret, deviceName: NEW.deviceName, registerURL }, resolve));
  if (res?.code !== 200) throw new Error(res instanceof Error ? res.message : JSON.stringify(res));
  registered = iot.device({ ...res.data, brokerUrl: url });
  await connected(registered);
  registered.end(true);
  return 'code 200, connected';
});
await check(
  "register with signMethod 'hmacsha256'",
  async () => {
    const res = await within(5000, 'register answer', (resolve) =>
      iot.register({ productKey: PRODUCT.productKey, productSecret: PRODUCT.productSecret, deviceName: NEW2.deviceName, signMethod: 'hmacsha256', registerURL }, resolve),
    );
    if (res?.code !== 200) throw new Error(`code ${res?.code}: ${res?.message}`);
  },
  { match: /code 401/, why: "lib/utils.js deviceRegisterSign always signs with HMAC-SHA1 while the form says signMethod=hmacsha256; the platform checks the announced method" },
);

await emulator.close();
await plain.close();
console.log(unexpected === 0 ? 'every check ended as expected' : `${unexpected} check(s) did not end as expected`);
process.exit(unexpected === 0 ? 0 : 1);
