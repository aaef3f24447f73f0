/**
 * Which cloud services hear a device's PUBLISH: the thing-model services for one of its own
 * thing-model topics; otherwise the gateway's cloud side (a gateway's request, or a message of one
 * of its sub-devices, which is then the sub-device's); and the device services (NTP, shadow,
 * configuration, tags) for their topics, the device's own or a logged-in sub-device's.
 */
import { parseServiceTopic } from '../../aliyun/service-topics.js';
import { debug } from '../../shared/builtins.js';
import type { OnlineDevice } from '../presence.js';
import type { GatewayCloud } from './gateway.js';
import type { CloudService } from './service.js';

/** Hands `device`'s PUBLISH on `topic` to the services it concerns; a service that cannot answer is logged, never thrown. */
export function dispatchPublish(services: readonly CloudService[], gateway: GatewayCloud, device: OnlineDevice, topic: string, payload: Uint8Array): void {
  const kind = device.topics.parse(topic);
  if (kind !== undefined) {
    for (const service of services) service.published(device, topic, kind, payload);
    return;
  }
  // Not one of its own thing-model topics: a gateway's request, or one of its sub-devices' topics.
  const subDevice = gateway.received(device, topic, payload);
  const subKind = subDevice?.topics.parse(topic);
  if (subKind !== undefined) {
    for (const service of services) service.published(subDevice!, topic, subKind, payload);
    return;
  }
  // A device service (NTP, shadow, configuration, tags): the device's own, or a logged-in sub-device's through its gateway.
  const serviceKind = parseServiceTopic(topic);
  if (serviceKind === undefined) return;
  const owner = subDevice ?? device;
  for (const service of services) {
    try {
      service.servicePublished?.(owner, topic, serviceKind, payload);
    } catch (error) {
      // A message no service rule foresaw must not take the stand-in down: it gets no answer.
      if (debug.enabled) debug('emulator: %s on %s got no answer: %s', device.topics.deviceName, topic, (error as Error).message);
    }
  }
}
