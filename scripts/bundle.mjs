// Bundles the compiled library (dist/, from `tsc -p tsconfig.build.json`) into the few files
// the package ships, in dist/pkg/: one module per entry point plus the chunks they share.
//
//   node scripts/bundle.mjs      (npm run build runs it after tsc)
//
// Why: importing the per-file build reads and links about sixty modules, which on the
// reference machine cost several times the 15 ms budget for `import('aliot-mqtt')`; a bundle is
// one module. Doc comments stay in the .d.ts files beside the per-file build, where editors
// read them; the runtime bundles carry none.
import { rolldown } from 'rolldown';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const path = (p) => fileURLToPath(new URL(p, root));
const input = { index: path('dist/index.js'), emulator: path('dist/emulator/index.js') };
if (existsSync(path('dist/cli/main.js'))) input.cli = path('dist/cli/main.js');

rmSync(path('dist/pkg'), { recursive: true, force: true });
const bundle = await rolldown({ input, platform: 'node', logLevel: 'warn' });
const { output } = await bundle.write({
  dir: path('dist/pkg'),
  format: 'esm',
  entryFileNames: '[name].js',
  chunkFileNames: 'shared-[hash].js',
  comments: { legal: true, annotation: false, jsdoc: false },
});
await bundle.close();
for (const file of output) {
  if (file.type === 'chunk') console.log(`dist/pkg/${file.fileName}: ${(file.code.length / 1024).toFixed(1)} KiB`);
}
