/**
 * The outbox store: where a client keeps the QoS 1 messages it accepted and has not seen
 * acknowledged, so that a new process can send them after the old one died.
 */
export type { OutboxStore, OutboxStoreHooks, StoredEntry, StoredMessage } from './types.js';
export { fileStore } from './file-store.js';
export type { FileStore, FileStoreOptions, FileStoreStats, FsyncMode } from './file-store-options.js';
export { StoreError, type StoreDamage, type StoreErrorCode } from './errors.js';
