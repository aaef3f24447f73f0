/**
 * NTP's cloud side: a device's `{"deviceSendTime":"..."}` on `/ext/ntp/{pk}/{dn}/request` is
 * answered on `/ext/ntp/{pk}/{dn}/response` with the send time echoed and the platform's receive
 * and send times (C Link SDK 4.x `components/ntp`; formats in `src/aliyun/services/ntp.ts`).
 * A request that cannot be read gets no answer: the format has no error reply.
 */
import { buildNtpResponse, parseNtpRequest } from '../../aliyun/services/ntp.js';
import type { ParsedServiceTopic } from '../../aliyun/service-topics.js';
import { serviceTopic } from '../../aliyun/service-topics.js';
import { PlatformPayloadError } from '../../aliyun/wire/errors.js';
import type { OnlineDevice } from '../presence.js';
import type { CloudContext, CloudService } from './service.js';
import { ownTopic } from './own-topic.js';

/** @internal */
export class NtpService implements CloudService {
  readonly #cloud: CloudContext;
  readonly #answering: boolean;

  constructor(cloud: CloudContext, options: { readonly autoReplyServices: boolean }) {
    this.#cloud = cloud;
    this.#answering = options.autoReplyServices;
  }

  published(): void {}

  servicePublished(device: OnlineDevice, _topic: string, kind: ParsedServiceTopic, payload: Uint8Array): void {
    if (kind.kind !== 'ntp-request' || !ownTopic(device, kind) || !this.#answering) return;
    const serverRecvTime = this.#cloud.wallClock();
    let deviceSendTime: number;
    try {
      deviceSendTime = parseNtpRequest(payload).deviceSendTime;
    } catch (error) {
      if (error instanceof PlatformPayloadError) return;
      throw error;
    }
    const serverSendTime = Math.max(serverRecvTime, this.#cloud.wallClock());
    this.#cloud.send(serviceTopic('ntp-response', kind), buildNtpResponse({ deviceSendTime, serverRecvTime, serverSendTime }));
  }

  disconnected(): void {}

  closing(): void {}
}
