/**
 * The outbox store: where a client keeps the QoS 1 messages it accepted and has not seen
 * acknowledged, so that a new process can send them after the old one died.
 */
export type { OutboxStore, OutboxStoreHooks, StoredEntry, StoredMessage } from './types.js';
export { fileStore, type FileStore, type FileStoreOptions, type FileStoreStats, type FsyncMode } from './file-store.js';
export { StoreError, type StoreDamage, type StoreErrorCode } from './errors.js';
