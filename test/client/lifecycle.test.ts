/**
 * Random sessions: random calls, random server behaviour (acks, drops, stalls, garbage,
 * refusals) and random time, ended by end(). Whatever happened, every promise the client handed
 * out settles, no timer is left behind, no rejection goes unhandled, the client never crashes,
 * and no packet id is used twice at once [MQTT-2.3.1-2].
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnectReturnCode } from '../../src/packet/types.js';
import type { ServerConnection } from '../support/fake-server.js';
import { elapse, expectSettled, failOnUnhandledRejections, session, settle, track } from './harness.js';
import type { Tracked } from './harness.js';

failOnUnhandledRejections();

type Step =
  | { readonly kind: 'publish'; readonly qos: 0 | 1 }
  | { readonly kind: 'subscribe' }
  | { readonly kind: 'unsubscribe' }
  | { readonly kind: 'ack-some'; readonly fraction: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'stall' }
  | { readonly kind: 'resume' }
  | { readonly kind: 'garbage' }
  | { readonly kind: 'incoming'; readonly qos: 0 | 1 | 2 }
  | { readonly kind: 'connect' }
  | { readonly kind: 'time'; readonly ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('publish' as const), qos: fc.constantFrom(0 as const, 1 as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('subscribe' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unsubscribe' as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ack-some' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stall' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('incoming' as const), qos: fc.constantFrom(0 as const, 1 as const, 2 as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('connect' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 90_000 }) }) },
);

/** What the fake server answered: the requests (by connection and log index) and when. */
class Answers {
  readonly requests = new Set<string>();
  /** Acks sent: connection, id, and the length of that connection's log at the time. */
  readonly sent: Array<{ readonly connection: number; readonly packetId: number; readonly at: number }> = [];

  /** Answers the requests not answered yet on `connection`, a `fraction` of them, oldest first. */
  answer(connection: ServerConnection, fraction: number): void {
    const open: number[] = [];
    connection.log.forEach(({ packet: p }, i) => {
      const needsAck = p.type === 'subscribe' || p.type === 'unsubscribe' || (p.type === 'publish' && p.qos === 1);
      if (needsAck && !this.requests.has(`${connection.index}:${i}`)) open.push(i);
    });
    for (const i of open.slice(0, Math.ceil(open.length * fraction))) {
      const p = connection.log[i]!.packet;
      if (p.type === 'publish') connection.send({ type: 'puback', packetId: p.packetId! });
      else if (p.type === 'subscribe') connection.send({ type: 'suback', packetId: p.packetId, returnCodes: p.subscriptions.map(() => 1 as const) });
      else if (p.type === 'unsubscribe') connection.send({ type: 'unsuback', packetId: p.packetId });
      else continue;
      this.requests.add(`${connection.index}:${i}`);
      this.sent.push({ connection: connection.index, packetId: p.packetId!, at: connection.log.length });
    }
  }

  /**
   * No packet id held by two unacknowledged client packets at once on `connection`
   * [MQTT-2.3.1-2]: an id comes back only after the server acknowledged it.
   */
  checkIds(connection: ServerConnection): void {
    const acks = this.sent.filter((a) => a.connection === connection.index);
    const open = new Set<number>();
    connection.log.forEach(({ packet }, i) => {
      for (const a of acks) if (a.at === i) open.delete(a.packetId);
      const needsAck = packet.type === 'subscribe' || packet.type === 'unsubscribe' || (packet.type === 'publish' && packet.qos === 1);
      if (!needsAck) return;
      const id = packet.packetId!;
      if (!(packet.type === 'publish' && packet.dup)) expect(open.has(id), `id ${id} reused while unacknowledged`).toBe(false);
      open.add(id);
    });
  }
}

describe('random sessions', () => {
  it('settle every promise and leave no timer behind, whatever the server does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 10, maxLength: 40 }),
        fc.array(fc.constantFrom<ConnectReturnCode>(0, 0, 0, 0, 3, 5), { maxLength: 6 }),
        fc.boolean(),
        fc.boolean(),
        async (steps, connacks, clean, reconnect) => {
          const s = session({
            clientId: 'random-1',
            clean,
            keepalive: 30,
            pingTimeout: 5_000,
            connectTimeout: 10_000,
            maxInflight: 3,
            offlineQueueSize: 5,
            reconnect: reconnect ? { initialDelay: 1_000, maxDelay: 8_000 } : false,
          });
          s.server.autoPingresp();
          let n = 0;
          s.server.autoConnack(() => {
            // The first connection is accepted; later ones as the run says.
            const returnCode = n++ === 0 ? 0 : (connacks[(n - 2) % connacks.length] ?? 0);
            return { type: 'connack', sessionPresent: !clean && returnCode === 0 && n > 1, returnCode };
          });
          const promises: Array<Tracked<unknown>> = [track(s.client.connect())];
          const answers = new Answers();
          let incomingId = 1;
          await settle();
          for (const st of steps) {
            const connection = s.server.current;
            switch (st.kind) {
              case 'publish':
                promises.push(track(s.client.publish('t/x', 'p', { qos: st.qos })));
                break;
              case 'subscribe':
                promises.push(track(s.client.subscribe('c/#', { qos: 1 })));
                break;
              case 'unsubscribe':
                promises.push(track(s.client.unsubscribe('c/#')));
                break;
              case 'ack-some':
                if (connection !== undefined && !connection.stalled) answers.answer(connection, st.fraction);
                break;
              case 'drop':
                connection?.destroy();
                break;
              case 'stall':
                connection?.stall();
                break;
              case 'resume':
                connection?.resume();
                break;
              case 'garbage':
                connection?.sendBytes(Uint8Array.of(0xf0, 0x00));
                break;
              case 'incoming':
                connection?.send({
                  type: 'publish',
                  topic: 'c/in',
                  payload: Buffer.from('m'),
                  qos: st.qos,
                  retain: false,
                  dup: false,
                  packetId: st.qos === 0 ? undefined : incomingId++,
                });
                break;
              case 'connect':
                promises.push(track(s.client.connect()));
                break;
              case 'time':
                await elapse(s.clock, st.ms);
                break;
            }
            await settle(2);
          }
          for (const c of s.server.connections) answers.checkIds(c);
          const ended = track(s.client.end({ timeout: 2_000 }));
          for (const c of s.server.connections) c.resume();
          await elapse(s.clock, 5_000);
          expectSettled(ended, 'end()');
          promises.forEach((p, i) => expectSettled(p, `promise ${i}`));
          expect(s.client.state).toBe('ended');
          expect(s.clock.pending()).toBe(0);
          // Errors reported are the client's own kinds, never a crash inside it.
          for (const e of s.errors) expect(['TypeError', 'RangeError', 'ReferenceError']).not.toContain(e.name);
        },
      ),
      { numRuns: 100 },
    );
  });
});
