/**
 * The gateway's topology and sub-device registration: `thing.topo.add` (each sub-device signed
 * with its own secret, in messages of 30), `thing.topo.get`, `thing.topo.delete` and
 * `thing.sub.register`. Formats: docs/platform-formats.md section 4.
 */
import { GATEWAY_LIMITS, inBatches } from '../aliyun/gateway/limits.js';
import type { SubDeviceCredentials } from '../aliyun/gateway/sign.js';
import { buildSubRegister, buildTopoAdd, buildTopoDelete, buildTopoGet } from '../aliyun/gateway/topology.js';
import type { RegisteredSubDevice } from '../aliyun/gateway/topology.js';
import { identityKey } from '../aliyun/wire/identity.js';
import type { DeviceIdentity } from '../aliyun/wire/identity.js';
import type { SignMethod } from '../sign/types.js';
import { checkList, prebuild } from './gateway-options.js';
import type { GatewayContext } from './gateway-options.js';
import type { GatewayRequests } from './gateway-requests.js';
import type { SubDeviceSessions } from './gateway-sessions.js';
import type { GatewayRequestOptions } from './gateway-types.js';

/** @internal */
export class GatewayTopology {
  readonly #gateway: GatewayContext;
  readonly #requests: GatewayRequests;
  readonly #sessions: SubDeviceSessions;

  constructor(gateway: GatewayContext, requests: GatewayRequests, sessions: SubDeviceSessions) {
    this.#gateway = gateway;
    this.#requests = requests;
    this.#sessions = sessions;
  }

  async add(subDevices: readonly SubDeviceCredentials[], options: GatewayRequestOptions & { readonly signMethod?: SignMethod }): Promise<DeviceIdentity[]> {
    checkList('subDevices', subDevices);
    const signMethod = options.signMethod ?? this.#gateway.settings.signMethod;
    const timestamp = Date.now();
    // Every message is built (and every sub-device signed) once before the first goes out.
    const messages = inBatches(subDevices, GATEWAY_LIMITS.maxTopoAdd).map((batch) => prebuild((id) => buildTopoAdd({ id, subDevices: batch, signMethod, timestamp })));
    const added: DeviceIdentity[] = [];
    for (const build of messages) added.push(...((await this.#requests.request('topo-add', build, options)).data as DeviceIdentity[]));
    return added;
  }

  async get(options: GatewayRequestOptions): Promise<DeviceIdentity[]> {
    return (await this.#requests.request('topo-get', (id) => buildTopoGet({ id }), options)).data as DeviceIdentity[];
  }

  /** Removes sub-devices from the topology; those the platform removed go offline. */
  async delete(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions): Promise<DeviceIdentity[]> {
    const build = prebuild((id) => buildTopoDelete({ id, subDevices }));
    const removed = (await this.#requests.request('topo-delete', build, options)).data as DeviceIdentity[];
    for (const device of removed) this.#sessions.goOffline(this.#sessions.get(identityKey(device)), 'topology-removed');
    return removed;
  }

  async register(subDevices: readonly DeviceIdentity[], options: GatewayRequestOptions): Promise<RegisteredSubDevice[]> {
    const build = prebuild((id) => buildSubRegister({ id, subDevices }));
    return (await this.#requests.request('sub-register', build, options)).data as RegisteredSubDevice[];
  }
}
