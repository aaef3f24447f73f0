import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { once } from 'node:events';
import { boundMessage, MIN_REDACTED_LENGTH, redactSecrets } from '../../src/emulator/echo.js';
import { MAX_EVENT_MESSAGE } from '../../src/emulator/index.js';
import type { RefuseEvent } from '../../src/emulator/index.js';
import { connectPacket, connectDevice } from './raw-client.js';
import { emulatorPerTest, LAMP } from './fixtures.js';

const start = emulatorPerTest();

const hasLoneSurrogate = (text: string): boolean => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);

describe('boundMessage', () => {
  it('leaves a message of MAX_EVENT_MESSAGE or less as it is', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: MAX_EVENT_MESSAGE }), (text) => {
        expect(boundMessage(text)).toBe(text);
      }),
    );
  });

  it('cuts any longer message to MAX_EVENT_MESSAGE, keeping its start and its end', () => {
    fc.assert(
      fc.property(fc.string({ minLength: MAX_EVENT_MESSAGE + 1, maxLength: 70_000, unit: 'grapheme' }), (text) => {
        const bounded = boundMessage(text);
        expect(bounded.length).toBeLessThanOrEqual(MAX_EVENT_MESSAGE);
        expect(text.startsWith(bounded.slice(0, 100))).toBe(true);
        expect(text.endsWith(bounded.slice(-50))).toBe(true);
        expect(hasLoneSurrogate(bounded)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('redactSecrets', () => {
  it('hides every occurrence of each secret, and leaves the rest', () => {
    expect(redactSecrets('a lamp-secret b lamp-secret', ['lamp-secret'])).toBe('a [redacted] b [redacted]');
    expect(redactSecrets('nothing to hide', ['lamp-secret', undefined])).toBe('nothing to hide');
  });

  it('does not search for values too short to be secrets', () => {
    const short = 'x'.repeat(MIN_REDACTED_LENGTH - 1);
    expect(redactSecrets(`max ${short}`, [short])).toBe(`max ${short}`);
  });
});

/** Refused CONNECT of LAMP with `overrides`, and its `refuse` event. */
async function refusal(overrides: Parameters<typeof connectPacket>[1]): Promise<RefuseEvent> {
  const server = await start();
  const refused = once(server, 'refuse') as Promise<[RefuseEvent]>;
  const { client } = await connectDevice(server, LAMP, overrides);
  await client.expectClosed();
  return (await refused)[0];
}

describe('refusal messages', () => {
  it('cut a long echoed extension field to MAX_EVENT_MESSAGE', async () => {
    const event = await refusal({ clientId: `raw-client|securemode=2,${'x'.repeat(1_800)}|` });
    expect(event).toMatchObject({ returnCode: 2, reason: 'malformed-extension' });
    expect(event.message.length).toBeLessThanOrEqual(MAX_EVENT_MESSAGE);
  });

  it('never quote a registered device secret put in the user name', async () => {
    const event = await refusal({ username: `lamp&${LAMP.deviceSecret}` });
    expect(event).toMatchObject({ returnCode: 5, reason: 'unknown-device' });
    expect(event.message).not.toContain(LAMP.deviceSecret);
  });

  it('never quote the password put in an extension field', async () => {
    const { password } = connectPacket(LAMP);
    const text = Buffer.from(password!).toString();
    const event = await refusal({ clientId: `raw-client|securemode=2,signmethod=${text}|` });
    expect(event).toMatchObject({ returnCode: 2, reason: 'bad-sign-method' });
    expect(event.message).not.toContain(text);
  });
});
