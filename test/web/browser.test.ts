/**
 * The page in a real browser, used as a person would: Debian's Chromium, headless, driven by
 * playwright-core (no browser download). It runs the demo's steps with the buttons, reads the
 * arrows and the byte tables, pastes broken packets, moves around with the keyboard only, and
 * signs the platform's worked example. Screenshots go to test/web/artifacts/ (not committed).
 *
 * startWeb serves the built page; `npm test` builds first.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { explain } from '../../src/cli/explain.js';
import { parseHex } from '../../src/cli/hex.js';
import { connectDevice } from '../../src/device/device.js';
import { startWeb, WEB_GUEST_DEVICE } from '../../src/web/server.js';
import type { WebServer } from '../../src/web/server.js';
import { launchChromium } from './support.js';

const ARTIFACTS = new URL('artifacts/', import.meta.url);
/** A browser on a machine shared with other work (2 cores) can be slow; each test gets a minute. */
const BROWSER_TEST_MS = 60_000;
/** What the page shows changes a moment after what causes it; wait for it, up to 20 s. */
const eventually = <T>(actual: () => T | Promise<T>) => expect.poll(actual, { timeout: 20_000, interval: 50 });
const shot = (name: string): string => new URL(`${name}.png`, ARTIFACTS).pathname;

let web: WebServer;
let browser: Browser;
/** Every request any page made, every answer that was an error, and every console error or uncaught exception. */
const requests: string[] = [];
const refused: string[] = [];
const problems: string[] = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  web = await startWeb();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
});

async function openPage(width = 1400, height = 1000): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on('request', (request) => requests.push(request.url()));
  page.on('response', (response) => {
    if (response.status() >= 400) refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  page.on('console', (message) => {
    // The browser logs every error answer as a failed load; those are checked from the answers themselves.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  await page.goto(web.url);
  await page.getByText('Connected to aliot web.').waitFor();
  return page;
}

/** Clicks a step's button and waits for the step to report. */
async function step(page: Page, name: RegExp): Promise<string> {
  await page.getByRole('button', { name }).click();
  const status = page.locator('#step-status');
  await eventually(() => status.textContent()).not.toMatch(/^Running/);
  return (await status.textContent()) ?? '';
}

/** The arrows on the page, as `up PUBLISH` etc., in order. */
function arrows(page: Page): Promise<string[]> {
  return page.$$eval('#timeline li.packet', (items) =>
    items.map((li) => `${li.classList.contains('up') ? 'up' : 'down'} ${li.getAttribute('data-type')}${li.classList.contains('lost') ? ' lost' : ''}`),
  );
}

/** The dissector's table rows as [offset, field name, value]. */
function rows(page: Page): Promise<string[][]> {
  return page.$$eval('#dissection table.fields tr.field', (trs) =>
    trs.map((tr) => [tr.querySelector('td.offset')!.textContent!, tr.querySelector('td.name')!.firstChild!.textContent!, tr.querySelector('td.value .v')!.textContent!]),
  );
}

describe('the session view', { timeout: BROWSER_TEST_MS }, () => {
  let page: Page;
  beforeAll(async () => {
    // Tall enough that the README's screenshot shows the lost PUBACK and the resend together.
    page = await openPage(1400, 1300);
  });
  afterAll(() => page.close());

  it('runs the demo\'s steps from its buttons and draws each packet as an arrow, as the server saw it', async () => {
    expect(await step(page, /^1\. Connect/)).toContain('CONNACK 0: the stand-in accepted lamp of product a1DemoProd, Session Present 0');
    expect(await page.getByRole('button', { name: /^3\. Post properties/ }).getAttribute('title')).toBe('subscribe first');
    expect(await step(page, /^2\. Subscribe/)).toContain('SUBACK');
    expect(await step(page, /^3\. Post properties/)).toContain('code 200');
    expect(await step(page, /^4\. Cloud sets a property/)).toContain('code 200');
    expect(await step(page, /^5\. Ping/)).toContain('PINGRESP');
    expect(await step(page, /^6\. Lose the connection/)).toMatch(/Session Present 1: .* DUP 1, with the same packet identifier/);
    expect(await step(page, /^7\. Disconnect/)).toContain('Disconnected');

    const server = web.feed.since().map((e) => JSON.parse(e.json)).filter((e) => e.kind === 'packet');
    await eventually(() => page.locator('#timeline li.packet').count()).toBe(server.length);
    expect(await arrows(page)).toEqual(server.map((p) => `${p.direction} ${p.type}${p.lost ? ' lost' : ''}`));
    expect(await arrows(page)).toContain('down PUBACK lost');

    // The arrows' text is what they show: who sent it, the type, key fields and the size.
    await eventually(() => page.getByRole('button', { name: /^Device to platform: CONNECT · clientId a1DemoProd\.lamp\|securemode=2/ }).count()).toBe(2);
    // The second connection found the session the stand-in kept for Clean Session 0.
    expect(await page.getByRole('button', { name: /^Platform to device: CONNACK · return code 0 \(accepted\) · session present 0 · 4 bytes$/ }).count()).toBe(1);
    expect(await page.getByRole('button', { name: /^Platform to device: CONNACK · return code 0 \(accepted\) · session present 1 · 4 bytes$/ }).count()).toBe(1);
    expect(await page.getByRole('button', { name: /^Platform to device: PUBACK · id \d+ · 4 bytes · lost: the connection was cut, it never arrived$/ }).count()).toBe(1);
    const resent = await page.$$eval('#timeline li.packet.up[data-type="PUBLISH"] .label', (labels) => labels.map((l) => l.textContent!).filter((t) => t.includes('/user/update')));
    expect(resent).toHaveLength(2);
    // The same message with the same packet id, the resend flagged DUP 1 [MQTT-3.3.1-1].
    expect(resent[0]).not.toContain('DUP 1');
    expect(resent[1]).toBe(resent[0]!.replace(/ · id (\d+) · /, ' · id $1 · DUP 1 · '));
    expect(await page.locator('#timeline li.packet.up[data-type="PUBLISH"] .label .dup').allTextContents()).toEqual(['DUP 1']);
    // Timing: every arrow says how long after the one before it came; answers say their round trip.
    expect(await page.locator('li.packet[data-type="PINGRESP"] .when').textContent()).toMatch(/round trip \d/);
    expect(await page.locator('li.step h3').allTextContents()).toHaveLength(7);

    // For the README: the lost connection as a viewer sees it, the list scrolled to that step.
    const timeline = page.locator('#timeline');
    await timeline.evaluate((list: any) => {
      const drop = list.querySelectorAll('li.step')[5];
      list.scrollTop = drop.offsetTop - list.offsetTop;
    });
    await page.locator('#session').screenshot({ path: shot('session') });
    await timeline.evaluate((list: any) => void (list.style.maxHeight = 'none'));
    await page.locator('#session').screenshot({ path: shot('session-full') });
    await timeline.evaluate((list: any) => void (list.style.maxHeight = ''));
  });

  it('shows the steps that make sense now, and why the others are off', async () => {
    const button = (name: RegExp) => page.getByRole('button', { name });
    expect(await button(/^1\. Connect/).isEnabled()).toBe(true);
    expect(await button(/^5\. Ping/).isDisabled()).toBe(true);
    expect(await button(/^5\. Ping/).getAttribute('title')).toBe('connect first');
    // The session of the demo above was kept, its subscriptions with it: no need to subscribe first.
    expect(await step(page, /^1\. Connect/)).toContain('Session Present 1');
    expect(await button(/^3\. Post properties/).isEnabled()).toBe(true);
    expect(await button(/^Run every step/).getAttribute('title')).toBe('it starts from the beginning: disconnect first');
    expect(await button(/^5\. Ping/).isEnabled()).toBe(true);
    // A pause on the wire opens a gap that says how long it was.
    await step(page, /^5\. Ping/);
    await page.waitForTimeout(700);
    await step(page, /^5\. Ping/);
    const gap = page.locator('#timeline li.gap').last();
    expect(await gap.textContent()).toMatch(/^\d+ ms with nothing on the wire$/);
    expect(await gap.evaluate((li: any) => li.nextElementSibling.className)).toBe('step');
    await step(page, /^7\. Disconnect/);
  });

  it('takes a clicked packet apart in the dissector, password masked', async () => {
    await page.locator('#timeline li.packet[data-type="CONNECT"] button').first().click();
    await eventually(() => page.locator('#dissection h3').first().textContent()).toMatch(/^Packet \d+: CONNECT from the device/);
    const table = await rows(page);
    expect(table[0]).toEqual(['0', 'packet type and flags', 'CONNECT, flags 0000']);
    const password = table.find((r) => r[1] === 'Password')!;
    expect(password[2]).toBe('[redacted]');
    const hexOfPassword = await page.$$eval('#dissection tr.field', (trs) => trs.find((tr) => tr.querySelector('td.name')!.textContent === 'Password')!.querySelector('td.hex')!.textContent);
    expect(hexOfPassword).toBe('[64 bytes redacted]');
    expect(await page.locator('#dissection .bytes span.masked').count()).toBe(64);
    expect(await page.locator('#dissection .bytes span.masked').first().textContent()).toBe('**');
    // The flags byte drawn bit by bit.
    expect(await page.locator('#dissection .bitfield').first().locator('.bit').allTextContents()).toHaveLength(8);
    expect(await page.locator('#dissection-status').textContent()).toContain('the decoder accepts it');

    await page.locator('#timeline li.packet[data-type="SUBACK"] button').first().click();
    await eventually(() => page.locator('#dissection h3').first().textContent()).toMatch(/SUBACK from the platform/);
    expect((await rows(page)).map((r) => r[1])).toEqual(['packet type and flags', 'Remaining Length', 'Packet Identifier', 'Return Code', 'Return Code', 'Return Code']);
  });

  it('draws the sessions of a device of your own, live, and of a viewer who came late', async () => {
    const late = await openPage();
    try {
      await eventually(() => late.locator('#timeline li.packet').count()).toBe(await page.locator('#timeline li.packet').count());
      const disconnects = (p: Page) => p.getByRole('button', { name: /^Device to platform: DISCONNECT/ }).count();
      const before = [await disconnects(page), await disconnects(late)];
      const device = await connectDevice({ ...WEB_GUEST_DEVICE, endpoint: { host: '::1', port: web.emulator.port }, ca: web.emulator.ca, reconnect: false });
      await device.client.ping();
      // A message larger than the page keeps of a frame (16 KiB), from the cloud to the device.
      await device.client.subscribe(device.topics.user('big'), { qos: 0 });
      const received = new Promise((resolve) => device.client.once('message', resolve));
      await web.emulator.publish(device.topics.user('big'), 'x'.repeat(20_000));
      await received;
      await device.end();
      for (const [i, p] of [page, late].entries()) {
        await eventually(() => disconnects(p)).toBe(before[i]! + 1);
        expect(await p.locator('#timeline li.packet .who', { hasText: 'sensor' }).count()).toBe(9);
      }
      await late.getByRole('button', { name: /^Platform to device: PUBLISH · QoS 0 · \/a1DemoProd\/sensor\/user\/big · payload 20000 bytes/ }).click();
      await eventually(() => late.locator('#dissection .truncated').textContent()).toMatch(/^The page keeps only the first 16384 bytes of a packet; this one has 20\d{3} bytes/);
      expect(await late.locator('#dissection tr.problem').textContent()).toContain('Error truncated');
    } finally {
      await late.close();
    }
  });
});

describe('the dissector', { timeout: BROWSER_TEST_MS }, () => {
  let page: Page;
  beforeAll(async () => {
    // A narrower window: the dissector below the session, as wide as the page.
    page = await openPage(1100);
  });
  afterAll(() => page.close());

  async function paste(hex: string): Promise<void> {
    await page.getByLabel('Bytes as hex').fill(hex);
    await page.getByRole('button', { name: 'Dissect' }).click();
  }

  it('shows pasted bytes field by field, exactly as aliot explain does', async () => {
    for (const hex of ['32 0e 00 05 68 65 6c 6c 6f 00 07 77 6f 72 6c 64', '82 0a 00 01 00 05 61 2f 62 2f 23 01', '20 02 00 00']) {
      await paste(hex);
      const expected = explain(parseHex(hex)).packets[0]!.fields.map((f) => [String(f.offset), f.name, f.value]);
      await eventually(() => rows(page)).toEqual(expected);
    }
  });

  it('takes a broken packet apart up to the bad byte, with the error shown there', async () => {
    const hex = '30 0a 00 03 61 2f 23 68 65 6c 6c 6f';
    await paste(hex);
    const expected = explain(parseHex(hex));
    // Where the decoder places a bad topic: in the Topic Name field (its length prefix or its text).
    const bad = expected.problem!.offset!;
    expect(bad).toBeGreaterThanOrEqual(2);
    expect(bad).toBeLessThanOrEqual(6);
    await eventually(() => rows(page)).toEqual(expected.packets[0]!.fields.map((f) => [String(f.offset), f.name, f.value]));
    // The row holding the bad byte is marked, the byte itself too, and the error says where and why.
    const badRow = expected.packets[0]!.fields.find((f) => bad >= f.offset && bad < f.offset + f.length)!;
    expect(await page.locator('#dissection tr.field.bad td.offset').allTextContents()).toEqual([String(badRow.offset)]);
    expect(await page.locator('#dissection .bytes span.bad').allTextContents()).toEqual([hex.split(' ')[bad]]);
    expect(await page.locator('#dissection .bytes span.bad').getAttribute('title')).toBe(`byte ${bad}`);
    const error = await page.locator('#dissection tr.problem').textContent();
    expect(error).toContain(`Error invalid-topic at byte ${bad}`);
    expect(error).toContain('wildcard');
    expect(await page.locator('#dissection tr.problem td.offset').textContent()).toBe(String(bad));
    // Nothing after the topic is dissected: the payload bytes are drawn as not read.
    expect(await page.locator('#dissection .bytes span.unread').count()).toBe(5);
    expect(await page.locator('#dissection-status').textContent()).toBe(`PUBLISH, 12 bytes: the decoder refuses it at byte ${bad} (invalid-topic).`);
    await page.locator('#dissector').screenshot({ path: shot('dissector') });
  });

  it('marks the end of bytes that stop inside a frame, and the flags of a wrong first byte', async () => {
    await paste('30 0d 00 05 68 65 6c');
    await eventually(() => page.locator('#dissection tr.problem').textContent()).toContain('Error truncated at byte 7');
    expect(await page.locator('#dissection .bytes .end-marker').textContent()).toContain('the bytes end here');

    await page.getByLabel('Examples').selectOption({ label: 'SUBSCRIBE with its reserved flags wrong' });
    await eventually(() => page.locator('#dissection tr.problem').textContent()).toContain('Error invalid-flags at byte 0');
    // The statement the decoder names, as explain gives it.
    const { statement } = explain(parseHex('80 0a 00 01 00 05 61 2f 62 2f 23 01')).problem!;
    expect(statement).toMatch(/^MQTT-/);
    expect(await page.locator('#dissection tr.problem').textContent()).toContain(`(${statement})`);
    expect(await page.locator('#dissection tr.field.bad td.offset').allTextContents()).toEqual(['0']);
  });

  it('lays out whatever bytes it is given without failing: reserved types, overlong lengths, random bytes', async () => {
    const cases = ['00', 'f0 00', '10', '30 80 80 80 80', 'e0 01 00', '20 02 01 06', '82 02 00 00'];
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => void cases.push(Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 '))),
      { numRuns: 25, seed: 13 },
    );
    const before = problems.length;
    for (const hex of cases) {
      await paste(hex);
      const expected = explain(parseHex(hex));
      const verdict = expected.problem === undefined ? 'the decoder accepts it.' : `the decoder refuses it at byte ${expected.problem.offset}`;
      await eventually(() => page.locator('#dissection-status').textContent()).toContain(verdict);
      expect(await page.locator('#dissection table.fields').count(), hex).toBe(expected.packets.length);
    }
    expect(problems.slice(before)).toEqual([]);
  });

  it('says what is wrong with hex it cannot read, next to the box', async () => {
    await paste('30 zz');
    const box = page.getByLabel('Bytes as hex');
    await eventually(() => page.getByRole('alert').first().textContent()).toContain('"zz" (group 2) is not hex');
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    await paste('c0 00');
    await eventually(() => box.getAttribute('aria-invalid')).toBe(null);
  });
});

describe('the keyboard', { timeout: BROWSER_TEST_MS }, () => {
  it('reaches the steps and the packets, moves between packets with the arrow keys, and opens one with Enter', async () => {
    const page = await openPage();
    try {
      const focused = () => page.evaluate(() => {
        const e = (globalThis as any).document.activeElement;
        return e.getAttribute('data-step') ?? e.closest('li.packet')?.getAttribute('data-seq') ?? e.id ?? e.tagName;
      });
      // From the top of the page, Tab by Tab to the first step's button, and run it with Enter.
      let presses = 0;
      while ((await focused()) !== 'connect' && presses++ < 20) await page.keyboard.press('Tab');
      expect(await focused()).toBe('connect');
      await page.keyboard.press('Enter');
      await eventually(() => page.locator('#step-status').textContent()).toContain('CONNACK 0');
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('subscribe');
      await page.keyboard.press('Space');
      await eventually(() => page.locator('#step-status').textContent()).toContain('SUBACK');

      // On to the packet list: a single Tab stop, wherever it is.
      await page.getByRole('button', { name: 'Clear the view' }).focus();
      await page.keyboard.press('Tab'); // the "your own device" disclosure
      await page.keyboard.press('Tab');
      const seqs = await page.$$eval('#timeline li.packet', (items) => items.map((li) => li.getAttribute('data-seq')));
      expect(await focused()).toBe(seqs[0]);
      await page.keyboard.press('ArrowDown');
      expect(await focused()).toBe(seqs[1]);
      await page.keyboard.press('End');
      expect(await focused()).toBe(seqs.at(-1));
      await page.keyboard.press('ArrowUp');
      expect(await focused()).toBe(seqs.at(-2));
      await page.keyboard.press('Home');
      expect(await focused()).toBe(seqs[0]);
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await eventually(() => page.locator('#dissection h3').first().textContent()).toMatch(new RegExp(`^Packet ${seqs[1]}: CONNACK`));
      expect(await page.locator(`li.packet[data-seq="${seqs[1]}"] button`).getAttribute('aria-pressed')).toBe('true');
      // Tab leaves the list (one stop, not one per packet) for the dissector.
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('hex-input');
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe(seqs[1]);
      await step(page, /^7\. Disconnect/);
    } finally {
      await page.close();
    }
  });
});

describe('the signing panel', { timeout: BROWSER_TEST_MS }, () => {
  it("shows the platform page's worked example, step by step, and follows changes", async () => {
    const page = await openPage();
    try {
      const result = page.locator('#sign-result');
      await eventually(() => result.locator('[data-testid="password"]').textContent()).toMatch(/^FAFD82A3D602B37FB0FA8B7892F24A477F85[0-9A-F]{4}$/);
      expect(await page.getByLabel('ProductKey').inputValue()).toBe('pk');
      expect(await result.locator('.content').textContent()).toBe('clientId12345deviceNamedeviceproductKeypktimestamp789');
      expect(await result.locator('table').first().locator('td').allTextContents()).toEqual(['clientId', '12345', 'deviceName', 'device', 'productKey', 'pk', 'timestamp', '789']);
      expect(await result.getByText('✓ Begins with FAFD82A3D602B37FB0FA8B7892F24A477F85').count()).toBe(1);
      expect(await result.textContent()).toContain('HMAC-SHA-1');
      expect(await result.textContent()).toContain('12345|securemode=3,signmethod=hmacsha1,timestamp=789|');

      await page.getByLabel('sign method').selectOption('hmacsha256');
      await eventually(() => result.locator('[data-testid="password"]').textContent()).toMatch(/^[0-9A-F]{64}$/);
      expect(await result.getByText('✓ Begins with').count()).toBe(0);
      await page.getByLabel('leave it out').check();
      await eventually(() => result.locator('.content').textContent()).toBe('clientId12345deviceNamedeviceproductKeypk');
      await page.getByLabel('ProductKey').fill('a&b');
      await eventually(() => page.locator('#sign-error').textContent()).toContain('productKey');
      await page.locator('#signing').screenshot({ path: shot('signing') });
    } finally {
      await page.close();
    }
  });
});

describe('the page as a whole', { timeout: BROWSER_TEST_MS }, () => {
  it('loaded everything from its own server (works offline) and logged no error', () => {
    expect(requests.length).toBeGreaterThan(5);
    const origin = new URL(web.url).origin;
    expect(requests.filter((url) => !url.startsWith(`${origin}/`))).toEqual([]);
    expect(problems).toEqual([]);
    // The only error answers: the signing panel's, for the ProductKey with '&' typed in on purpose.
    expect(new Set(refused)).toEqual(new Set(['400 /api/sign']));
  });

  it('keeps its list bounded when left open for a long time', async () => {
    const page = await openPage();
    try {
      for (let i = 0; i < 2100; i++) web.feed.record({ kind: 'note', level: 'info', text: `filler ${i}` });
      await eventually(() => page.locator('#timeline li', { hasText: 'filler 2099' }).count()).toBe(1);
      expect(await page.locator('#timeline > li').count()).toBe(2000);
      expect(await page.locator('#history-note').textContent()).toMatch(/^The \d+ oldest items have left this view, which keeps the last 2000\.$/);
      await page.getByRole('button', { name: 'Clear the view' }).click();
      expect(await page.locator('#timeline > li').count()).toBe(0);
      expect(await page.locator('#history-note').isHidden()).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('has readable contrast (WCAG AA, 4.5:1) for its text, and a name for every control', async () => {
    const page = await openPage();
    try {
      await step(page, /^1\. Connect/);
      await step(page, /^6\. Lose the connection/);
      await step(page, /^7\. Disconnect/);
      await page.locator('#timeline li.packet[data-type="CONNECT"] button').first().click();
      const { lowContrast, unnamed } = (await page.evaluate(readFileSync(new URL('page-checks.js', import.meta.url), 'utf8'))) as { lowContrast: string[]; unnamed: string[] };
      expect(lowContrast).toEqual([]);
      expect(unnamed).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
