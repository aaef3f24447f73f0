/**
 * What each CONNACK refusal means on this platform, its likely cause and the fix. The client
 * wraps these in its own error; this module only holds the data.
 */
import type { ConnectReturnCode } from '../packet/types.js';

/** The CONNACK return codes that refuse a connection. */
export type RefusedReturnCode = Exclude<ConnectReturnCode, 0>;

/** How to read one CONNACK refusal from the platform. */
export interface PlatformConnackHint {
  readonly returnCode: RefusedReturnCode;
  /** The MQTT 3.1.1 meaning (section 3.2.2.3). */
  readonly meaning: string;
  /** What usually causes it on this platform. */
  readonly cause: string;
  /** What to change. */
  readonly fix: string;
}

const TABLE: Readonly<Record<RefusedReturnCode, PlatformConnackHint>> = {
  1: {
    returnCode: 1,
    meaning: 'unacceptable protocol version',
    cause: 'the CONNECT did not ask for MQTT 3.1.1 (protocol level 4)',
    fix: 'connect with MQTT 3.1.1',
  },
  2: {
    returnCode: 2,
    meaning: 'identifier rejected',
    cause: 'a malformed clientId or clientId extension: an id over 64 characters or holding | , =, or an unknown signmethod',
    fix: 'use a short id such as the MAC or serial number and let signCredentials write the |securemode=..,signmethod=..| extension',
  },
  3: {
    returnCode: 3,
    meaning: 'server unavailable',
    cause:
      'often a bad clientId extension (a securemode that does not match the transport: 2 for TLS, 3 for TCP) or a keepalive outside 30..1200 seconds',
    fix: 'derive securemode from the transport (deviceConnectionOptions does) and keep keepalive within 30..1200; otherwise retry later',
  },
  4: {
    returnCode: 4,
    meaning: 'bad user name or password',
    cause: 'the signature does not match: a wrong deviceSecret, a sign method other than the one announced, or the content signed in the wrong order',
    fix: "check the deviceSecret against the console and sign with signCredentials; the user name must be deviceName&productKey",
  },
  5: {
    returnCode: 5,
    meaning: 'not authorized',
    cause: 'usually a wrong productKey/deviceName/deviceSecret triple, or a device that is disabled or deleted',
    fix: 'copy the triple from the device page in the IoT Platform console and check that the device is enabled',
  },
};

const HINTS = new Map(Object.values(TABLE).map((hint) => [hint.returnCode as number, Object.freeze(hint)]));

/**
 * The platform's reading of a CONNACK return code: meaning, likely cause and fix. `undefined` for
 * 0 (accepted) and for anything outside 1..5.
 */
export function platformConnackHint(returnCode: RefusedReturnCode): PlatformConnackHint;
export function platformConnackHint(returnCode: number): PlatformConnackHint | undefined;
export function platformConnackHint(returnCode: number): PlatformConnackHint | undefined {
  return HINTS.get(returnCode);
}
