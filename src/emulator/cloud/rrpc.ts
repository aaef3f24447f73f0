/**
 * RRPC, the cloud's synchronous call: a payload on `rrpc/request/{messageId}`, answered by
 * whatever the device publishes on `rrpc/response/{messageId}`.
 */
import { AlinkIdGenerator } from '../../aliyun/alink/id.js';
import { PendingReplies } from '../../aliyun/alink/pending.js';
import type { AlinkTopic } from '../../aliyun/alink/topics.js';
import { EmulatorError } from '../errors.js';
import type { OnlineDevice } from '../presence.js';
import type { Session } from '../session.js';
import { checkSubscribed } from './service.js';
import type { CloudContext, CloudService } from './service.js';

export class Rrpc implements CloudService {
  readonly #cloud: CloudContext;
  readonly #ids = new AlinkIdGenerator();
  /** By messageId. */
  readonly #responses: PendingReplies<Uint8Array>;

  constructor(cloud: CloudContext) {
    this.#cloud = cloud;
    this.#responses = new PendingReplies(cloud.clock);
  }

  async call(productKey: string, deviceName: string, payload: Uint8Array | string, timeoutMs: number): Promise<Uint8Array> {
    const device = this.#cloud.target(productKey, deviceName, timeoutMs);
    const messageId = this.#ids.next();
    const topic = device.topics.rrpcRequest(messageId);
    const responseTopic = device.topics.rrpcResponse(messageId);
    checkSubscribed(device, topic);
    const response = this.#responses.wait(messageId, {
      topic: responseTopic,
      timeout: timeoutMs,
      what: `RRPC ${messageId}`,
      owner: device.session,
      onTimeout: () =>
        new EmulatorError(
          'reply-timeout',
          `device ${deviceName} of product ${productKey} did not answer RRPC ${messageId} on ${responseTopic} within ${timeoutMs} ms`,
        ),
    });
    this.#cloud.send(topic, payload);
    return response;
  }

  published(_device: OnlineDevice, topic: string, kind: AlinkTopic, payload: Uint8Array): void {
    // A copy: the payload is a view into the socket's chunk.
    if (kind.kind === 'rrpc-response') this.#responses.settle(kind.messageId, topic, new Uint8Array(payload));
  }

  disconnected(session: Session, error: EmulatorError): void {
    this.#responses.rejectAll(() => error, session);
  }

  closing(error: EmulatorError): void {
    this.#responses.rejectAll(() => error);
  }
}
