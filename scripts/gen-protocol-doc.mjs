// Writes docs/protocol.md from one real session against the local stand-in (see
// src/cli/protocol-doc.ts), so the bytes in the document are the bytes this library sends.
//
//   npm run build && node scripts/gen-protocol-doc.mjs           write docs/protocol.md
//   npm run build && node scripts/gen-protocol-doc.mjs --check   exit 1 if it is stale
//   ... --file PATH                                              another file than docs/protocol.md
//
// It imports the per-file build in dist/ rather than the sources, so it runs on plain Node with
// no TypeScript tooling; test/cli/protocol-doc.test.ts runs the same generator from the sources.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const at = process.argv.indexOf('--file');
const target = at > 0 && process.argv[at + 1] !== undefined ? new URL(process.argv[at + 1], `file://${process.cwd()}/`) : new URL('../docs/protocol.md', import.meta.url);
let generator;
try {
  generator = await import('../dist/cli/protocol-doc.js');
} catch (error) {
  console.error(`cannot load dist/cli/protocol-doc.js (${error.message}); run npm run build first`);
  process.exit(1);
}
const text = await generator.protocolDoc();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(target, 'utf8');
  } catch {
    // a missing file is stale too
  }
  if (committed !== text) {
    console.error(`${fileURLToPath(target)} is stale: run npm run docs and commit the result`);
    process.exit(1);
  }
  console.log(`${fileURLToPath(target)} is up to date`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${fileURLToPath(target)}`);
}
