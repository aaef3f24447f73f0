/**
 * Where the stand-in's shipped device CA lives. A URL relative to this module: `src/emulator/`
 * and the bundle's `dist/pkg/` both sit two levels below the package root, so it resolves alike
 * under Vitest and in the built package (a module one folder deeper could not say the same).
 */
export const DEVICE_CA_DIRECTORY = new URL('../../certs/emulator/', import.meta.url);
