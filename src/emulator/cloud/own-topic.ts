/**
 * Whose topic a service message is on. A device may publish on its own topics only (the platform
 * authorizes topics per device); a message on another device's service topic is routed like any
 * PUBLISH but gets no answer from the cloud.
 */
import type { DeviceIdentity } from '../../aliyun/wire/identity.js';
import type { OnlineDevice } from '../presence.js';

export function ownTopic(device: OnlineDevice, topic: DeviceIdentity): boolean {
  return topic.productKey === device.topics.productKey && topic.deviceName === device.topics.deviceName;
}
