/*
 * Remote configuration: the device asks for its product's configuration file
 * (`thing.config.get` on `/sys/{pk}/{dn}/thing/config/get`, answered on `_reply`), and the
 * platform pushes a new one (`thing.config.push` on `/sys/{pk}/{dn}/thing/config/push`, which the
 * device answers on `push_reply`). Either way the message describes a file to download and check:
 * `{configId, configSize, sign, signMethod, url, getType}`.
 *
 * Formats: Node.js SDK 1.2.8 `lib/thing.js` `getConfig` (params `{"configScope":"product",
 * "getType":"file"}`, and the reply example with `configId`, `configSize`, `getType: "file"`,
 * `sign`, `signMethod: "Sha256"`, `url`); C Link SDK 4.x `components/ota/aiot_ota_api.c`
 * `_ota_mqtt_process` (a push carries the file in `params`, a get reply in `data`; the version
 * is `configId`, the size `configSize`).
 */
import { buildAlinkReply } from '../alink/payload.js';
import { ConfigurationError } from '../../shared/errors.js';
import { requireText } from '../../shared/validate.js';
import { SERVICE_METHODS } from '../service-topics.js';
import { readReply, readRequest, writeRequest } from '../wire/envelope.js';
import type { PlatformReply } from '../wire/envelope.js';
import type { DigestMethod } from '../wire/digest.js';
import { DIGEST_HEX_LENGTH, readDigest, readHttpsUrl } from '../wire/digest.js';
import { PlatformPayloadError } from '../wire/errors.js';
import { Fields } from '../wire/read.js';

/** A configuration file to download. */
export interface ConfigFile {
  readonly configId: string;
  /** Bytes. */
  readonly configSize: number;
  /** Lower-case hex digest of the file. */
  readonly sign: string;
  readonly signMethod: DigestMethod;
  readonly url: string;
  /** Always `'file'` today. */
  readonly getType: 'file';
}

/** `thing.config.get` for the product's configuration file, the one scope and type the platform serves. */
export function buildConfigGet(input: { readonly id: string }): string {
  return writeRequest({ id: input.id, params: { configScope: 'product', getType: 'file' }, method: SERVICE_METHODS.configGet });
}

/** Reads a `thing.config.get` (the platform's side). */
export function parseConfigGet(payload: Uint8Array | string): { readonly id: string; readonly configScope: string; readonly getType: string } {
  const request = readRequest(payload, { method: SERVICE_METHODS.configGet });
  const params = Fields.of(request.params, 'params');
  return { id: request.id, configScope: params.string('configScope'), getType: params.string('getType') };
}

/** The `_reply` of `thing.config.get`: on success, the file. */
export function parseConfigGetReply(payload: Uint8Array | string): PlatformReply<ConfigFile> {
  return readReply(payload, readConfigFile);
}

/** Reads a `thing.config.push`; answer it on `push_reply`. */
export function parseConfigPush(payload: Uint8Array | string): { readonly id: string; readonly config: ConfigFile } {
  const request = readRequest(payload, { method: SERVICE_METHODS.configPush });
  return { id: request.id, config: readConfigFile(request.params, 'params') };
}

/** A `thing.config.push` (the platform's side). */
export function buildConfigPush(input: { readonly id: string; readonly config: ConfigFile }): string {
  return writeRequest({ id: input.id, params: configBody(input.config), method: SERVICE_METHODS.configPush });
}

/** A successful `_reply` to `thing.config.get` (the platform's side). */
export function buildConfigGetReply(input: { readonly id: string; readonly config: ConfigFile }): string {
  return buildAlinkReply({ id: input.id, data: configBody(input.config) });
}

function configBody(config: ConfigFile): Record<string, unknown> {
  const configId = requireText('config.configId', config.configId, 'give the configuration id');
  if (!Number.isSafeInteger(config.configSize) || config.configSize < 0) {
    throw new ConfigurationError('config.configSize', 'must be the size in bytes');
  }
  if (config.signMethod !== 'md5' && config.signMethod !== 'sha256') throw new ConfigurationError('config.signMethod', "use 'sha256' or 'md5'");
  if (!new RegExp(`^[0-9a-fA-F]{${DIGEST_HEX_LENGTH[config.signMethod]}}$`).test(config.sign)) {
    throw new ConfigurationError('config.sign', `must be the ${DIGEST_HEX_LENGTH[config.signMethod]}-digit hex digest of the file`);
  }
  const url = requireText('config.url', config.url, 'give the https URL of the file');
  return { configId, configSize: config.configSize, sign: config.sign, signMethod: signMethodName(config.signMethod), url, getType: 'file' };
}

/** `Sha256`, as configuration messages spell it (and `Md5`, as the C SDK spells MD5). */
function signMethodName(method: DigestMethod): string {
  return method === 'sha256' ? 'Sha256' : 'Md5';
}

function readConfigFile(value: unknown, path: string): ConfigFile {
  const fields = Fields.of(value, path);
  const configId = fields.string('configId');
  const configSize = fields.count('configSize');
  const { method, digest } = readDigest(fields, 'signMethod', 'sign');
  const url = readHttpsUrl(fields, 'url');
  const getType = fields.string('getType');
  if (getType !== 'file') throw new PlatformPayloadError('bad-field', fields.at('getType'), 'expected "file", the one type the platform serves');
  return { configId, configSize, sign: digest, signMethod: method, url, getType };
}
