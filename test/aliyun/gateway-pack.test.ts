import { describe, expect, it } from 'vitest';
import { buildHistoryPost, buildPackPost } from '../../src/aliyun/index.js';
import { parseHistoryPost, parsePackPost } from '../../src/aliyun/cloud-formats.js';
import { expectConfigurationError } from '../sign/helpers.js';
import { expectPayloadError, json } from './platform-helpers.js';

const T = 1524448722000;

describe('packed post (thing.event.property.pack.post)', () => {
  it('writes the page’s shape for the gateway and its sub-devices, and reads it back', () => {
    const text = buildPackPost({
      id: '123',
      properties: { Power: { value: 'on', time: T }, WF: { value: {}, time: T } },
      events: { alarmEvent1: { value: { param1: 'on', param2: '2' }, time: T } },
      subDevices: [{ productKey: 'subPk', deviceName: 'm1', properties: { Power: { value: 'off' } } }],
    });
    const body = JSON.parse(text);
    expect(body.method).toBe('thing.event.property.pack.post');
    expect(body.params).toEqual({
      properties: { Power: { value: 'on', time: T }, WF: { value: {}, time: T } },
      events: { alarmEvent1: { value: { param1: 'on', param2: '2' }, time: T } },
      subDevices: [{ identity: { productKey: 'subPk', deviceName: 'm1' }, properties: { Power: { value: 'off' } } }],
    });
    expect(parsePackPost(text)).toEqual({
      id: '123',
      gateway: { properties: { Power: { value: 'on', time: T }, WF: { value: {}, time: T } }, events: { alarmEvent1: { value: { param1: 'on', param2: '2' }, time: T } } },
      subDevices: [{ productKey: 'subPk', deviceName: 'm1', properties: { Power: { value: 'off' } } }],
    });
  });

  it('counts properties and events over all devices: 200 and 20 fit, 201 and 21 do not', () => {
    const props = (n: number, prefix: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, { value: i }]));
    const subDevices = Array.from({ length: 20 }, (_, i) => ({ productKey: 'p', deviceName: `d${i}`, properties: props(5, 'x') }));
    expect(() => buildPackPost({ id: '1', properties: props(100, 'g'), subDevices })).not.toThrow();
    expect(expectConfigurationError(() => buildPackPost({ id: '1', properties: props(101, 'g'), subDevices }), 'properties').message).toMatch(/201 properties/);
    const events = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, { value: {} }]));
    expect(() => buildPackPost({ id: '1', events: events(20) })).not.toThrow();
    expectConfigurationError(() => buildPackPost({ id: '1', events: events(21) }), 'events');
    expectConfigurationError(() => buildPackPost({ id: '1', properties: { a: { value: 1 } }, subDevices: [...subDevices, { productKey: 'p', deviceName: 'd20' }] }), 'subDevices');
  });

  it.each([
    ['properties', () => buildPackPost({ id: '1' })],
    ['events.alarm.value', () => buildPackPost({ id: '1', events: { alarm: { value: 3 } } })],
    ['properties.t.time', () => buildPackPost({ id: '1', properties: { t: { value: 1, time: -5 } } })],
    ['properties.t', () => buildPackPost({ id: '1', properties: { t: 21.5 as never } })],
    ['subDevices[1]', () => buildPackPost({ id: '1', properties: { a: { value: 1 } }, subDevices: [{ productKey: 'p', deviceName: 'd' }, { productKey: 'p', deviceName: 'd' }] })],
    ['subDevices[0].properties.x.time', () => buildPackPost({ id: '1', subDevices: [{ productKey: 'p', deviceName: 'd', properties: { x: { value: 1, time: 1.5 } } }] })],
    ['params', () => buildPackPost({ id: '1', properties: { a: { value: 1n } } })],
  ])('refuses a bad %s', (field, action) => {
    expectConfigurationError(action, field);
  });

  it('refuses malformed posts on the platform’s side', () => {
    const wrap = (params: unknown) => json({ id: '1', version: '1.0', params, method: 'thing.event.property.pack.post' });
    expectPayloadError(() => parsePackPost(wrap({ properties: { a: { time: T } } })), 'missing-field', 'params.properties.a.value');
    expectPayloadError(() => parsePackPost(wrap({ events: { e: { value: 1 } } })), 'bad-field', 'params.events.e.value');
    expectPayloadError(() => parsePackPost(wrap({ subDevices: [{ properties: {} }] })), 'missing-field', 'params.subDevices[0].identity');
    expectPayloadError(() => parsePackPost(wrap({ properties: { a: { value: 1, time: 'soon' } } })), 'bad-field', 'params.properties.a.time');
  });
});

describe('history post (thing.event.property.history.post)', () => {
  it('writes the page’s shape: per device, snapshots of properties and events with times', () => {
    const text = buildHistoryPost({
      id: '9',
      entries: [
        {
          productKey: 'gwPk',
          deviceName: 'gw1',
          properties: [{ Power: { value: 'on', time: T }, WF: { value: '3', time: T } }, { Power: { value: 'off', time: T + 1000 } }],
          events: [{ alarmEvent: { value: { Power: 'on', WF: '2' }, time: T } }],
        },
      ],
    });
    const body = JSON.parse(text);
    expect(body.method).toBe('thing.event.property.history.post');
    expect(body.params[0]).toEqual({
      identity: { productKey: 'gwPk', deviceName: 'gw1' },
      properties: [{ Power: { value: 'on', time: T }, WF: { value: '3', time: T } }, { Power: { value: 'off', time: T + 1000 } }],
      events: [{ alarmEvent: { value: { Power: 'on', WF: '2' }, time: T } }],
    });
    const parsed = parseHistoryPost(text);
    expect(parsed.entries[0]).toMatchObject({ productKey: 'gwPk', deviceName: 'gw1' });
    expect(parsed.entries[0]!.properties).toHaveLength(2);
  });

  it('requires a time on every value, and data for every device', () => {
    expectConfigurationError(() => buildHistoryPost({ id: '1', entries: [{ productKey: 'p', deviceName: 'd', properties: [{ a: { value: 1 } }] }] }), 'entries[0].properties[0].a.time');
    expectConfigurationError(() => buildHistoryPost({ id: '1', entries: [{ productKey: 'p', deviceName: 'd' }] }), 'entries[0]');
    expectConfigurationError(() => buildHistoryPost({ id: '1', entries: [] }), 'entries');
    const wrap = (params: unknown) => json({ id: '1', params, method: 'thing.event.property.history.post' });
    expectPayloadError(() => parseHistoryPost(wrap([{ identity: { productKey: 'p', deviceName: 'd' }, properties: [{ a: { value: 1 } }] }])), 'missing-field', 'params[0].properties[0].a.time');
  });
});
