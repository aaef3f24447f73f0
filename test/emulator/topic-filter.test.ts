import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { topicMatches } from '../../src/emulator/index.js';

describe('topicMatches (section 4.7)', () => {
  // The examples of sections 4.7.1.2, 4.7.1.3 and 4.7.2, each as [filter, topic, matches].
  it.each([
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/#', 'sport', true], // '#' also matches the parent level
    ['#', 'sport/tennis', true],
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/tennis/#', 'sport/tennisx', false],
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player2', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true], // '+' matches an empty level
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['+/tennis/#', 'sport/tennis/player1', true],
    ['sport/+/player1', 'sport/tennis/player1', true],
    ['#', '$SYS/broker', false], // [MQTT-4.7.2-1]
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['$SYS/#', '$SYS/monitor/Clients', true],
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['ACCOUNTS', 'Accounts', false], // case-sensitive (4.7.3)
    ['/sys/pk/dn/thing/service/#', '/sys/pk/dn/thing/service/property/set', true],
    ['/sys/pk/dn/thing/event/+/post_reply', '/sys/pk/dn/thing/event/property/post_reply', true],
    ['/sys/pk/+/rrpc/request/+', '/sys/pk/dn/rrpc/request/42', true],
    ['/sys/pk/dn/rrpc/request/+', '/sys/pk/dn/rrpc/response/42', false],
  ])('%s vs %s: %s', (filter, topic, matches) => {
    expect(topicMatches(filter, topic)).toBe(matches);
  });

  const level = fc.stringMatching(/^[a-z0-9_]{0,4}$/);
  const topic = fc.array(level, { minLength: 1, maxLength: 6 }).map((levels) => levels.join('/'));

  it('matches a topic with itself, with "#", and with any levels replaced by "+"', () => {
    fc.assert(
      fc.property(topic, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), (name, plus) => {
        const levels = name.split('/');
        expect(topicMatches(name, name)).toBe(true);
        expect(topicMatches('#', name)).toBe(true);
        expect(topicMatches(levels.map((l, i) => (plus[i] ? '+' : l)).join('/'), name)).toBe(true);
      }),
    );
  });

  it('matches a topic with any of its prefixes followed by "#", and not with a longer filter', () => {
    fc.assert(
      fc.property(topic, fc.nat(), (name, cut) => {
        const levels = name.split('/');
        const prefix = levels.slice(0, cut % (levels.length + 1));
        expect(topicMatches([...prefix, '#'].join('/'), name)).toBe(true);
        expect(topicMatches(`${name}/+`, name)).toBe(false);
      }),
    );
  });

  it('does not match when one level differs', () => {
    fc.assert(
      fc.property(topic, fc.nat(), (name, at) => {
        const levels = name.split('/');
        const i = at % levels.length;
        levels[i] = `${levels[i]}x`;
        expect(topicMatches(levels.join('/'), name)).toBe(false);
      }),
    );
  });
});
