/**
 * What the OTA agent tells the platform: each module's version (`/ota/device/inform`), and a
 * job's progress and outcome (`/ota/device/progress`) with the platform's steps: a percentage,
 * 100 once the file is verified, -1..-4 for failures. The default module is reported without
 * `module`, as the C SDK does when none is set.
 */
import type { AlinkIdGenerator } from '../aliyun/alink/id.js';
import { DEFAULT_OTA_MODULE, buildOtaProgress, buildOtaVersion } from '../aliyun/ota/ota.js';
import { serviceTopic } from '../aliyun/service-topics.js';
import type { Device } from './device-types.js';
import { OtaError } from './ota-errors.js';

/** The longest `desc` sent with a failure: the console shows a line, not a log. */
const MAX_DESC = 200;

/** @internal */
export class OtaReports {
  readonly #device: Device;
  readonly #ids: AlinkIdGenerator;
  /** Where a report that could not be sent, and that nobody awaits, is told. */
  readonly #error: (error: OtaError) => void;

  constructor(device: Device, ids: AlinkIdGenerator, error: (error: OtaError) => void) {
    this.#device = device;
    this.#ids = ids;
    this.#error = error;
  }

  /** Reports that `module` runs `version` (QoS 1); the caller hears a failure. */
  version(module: string, version: string): Promise<void> {
    return this.#device.client.publish(serviceTopic('ota-inform', this.#device), this.#versionPayload(module, version), { qos: 1 });
  }

  /**
   * Reports every module's version, or only `only`'s. The first report's failure is the caller's
   * (createOta rejects); later ones (after a reconnect, a job for the version installed) are told
   * as `report-failed`.
   */
  async versions(versions: ReadonlyMap<string, string>, initial = false, only?: string): Promise<void> {
    const topic = serviceTopic('ota-inform', this.#device);
    const sends = [...versions].filter(([module]) => only === undefined || module === only).map(([module, version]) =>
      this.#device.client.publish(topic, this.#versionPayload(module, version), { qos: 1 }),
    );
    if (initial) {
      await Promise.all(sends);
      return;
    }
    const results = await Promise.allSettled(sends);
    for (const result of results) {
      if (result.status === 'rejected') this.#error(new OtaError('report-failed', `could not report a module's version: ${(result.reason as Error)?.message}`, { cause: result.reason }));
    }
  }

  /**
   * Progress at QoS 0, as the C SDK sends it (a lost one is overtaken by the next); the final
   * word (100, a failure) at QoS 1, so that it survives a dropped connection.
   */
  async step(module: string, step: number, desc: string): Promise<void> {
    const payload = buildOtaProgress({
      id: this.#ids.next(),
      step,
      desc: desc.length > MAX_DESC ? `${desc.slice(0, MAX_DESC - 1)}…` : desc,
      module: module === DEFAULT_OTA_MODULE ? undefined : module,
    });
    const final = step === 100 || step < 0;
    try {
      await this.#device.client.publish(serviceTopic('ota-progress', this.#device), payload, { qos: final ? 1 : 0 });
    } catch (error) {
      if (!final) return;
      this.#error(new OtaError('report-failed', `could not report step ${step} of module ${module} to the platform: ${(error as Error)?.message}`, { module, step, cause: error }));
    }
  }

  #versionPayload(module: string, version: string): string {
    return buildOtaVersion({ id: this.#ids.next(), version, module: module === DEFAULT_OTA_MODULE ? undefined : module });
  }
}
