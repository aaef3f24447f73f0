// Bundles the compiled library (dist/, from `tsc -p tsconfig.build.json`) into the few files
// the package ships, in dist/pkg/: one module per entry point plus the chunks they share.
//
//   node scripts/bundle.mjs      (npm run build runs it after tsc)
//
// Why: importing the per-file build reads and links about sixty modules, which on the
// reference machine cost several times the 15 ms budget for `import('aliot-mqtt')`; a bundle is
// one module. Doc comments stay in the declarations, where editors read them; the runtime
// bundles carry none.
//
// The declarations the package ships go to dist/types/: those the entry points' declarations
// reach, and no others (tsc writes one for every module, internal ones too).
//
// The page of `aliot web` goes to dist/web/page/: its hand-written files from src/web/page/ as
// they are, and mqtt-explain.js, the explainer and the codec bundled for the browser (below).
import { rolldown } from 'rolldown';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
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

const dist = path('dist');
const types = path('dist/types');
rmSync(types, { recursive: true, force: true });
const reached = new Set();
const reach = (file) => {
  if (reached.has(file)) return;
  reached.add(file);
  // Relative specifiers in `import ... from`, `export ... from` and `import('...')` types.
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
    const target = join(dirname(file), `${specifier}.d.ts`);
    if (!existsSync(target)) throw new Error(`${relative(dist, file)} refers to ${specifier}.js, which has no declaration`);
    reach(target);
  }
};
reach(path('dist/index.d.ts'));
reach(path('dist/emulator/index.d.ts'));
let declarationBytes = 0;
for (const file of reached) {
  const target = join(types, relative(dist, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  declarationBytes += readFileSync(file).length;
}
console.log(`dist/types: ${reached.size} declaration files, ${(declarationBytes / 1024).toFixed(1)} KiB`);

// The page's dissector is `aliot explain` itself, not a rewrite: the same modules, bundled for a
// browser. They are pure but for a few uses of Node's global Buffer (the codec probes it for
// fast paths and has portable ones), which are pointed at a small stand-in that a browser can run.
const page = path('dist/web/page');
rmSync(page, { recursive: true, force: true });
cpSync(path('src/web/page'), page, { recursive: true });
const browser = await rolldown({
  input: path('dist/cli/explain-page.js'),
  platform: 'browser',
  logLevel: 'warn',
  transform: { inject: { Buffer: [path('dist/web/buffer-shim.js'), 'Buffer'] } },
});
const { output: pageOutput } = await browser.write({
  file: join(page, 'mqtt-explain.js'),
  format: 'esm',
  // Not minified: a learner who opens it in the browser's developer tools can read it.
  comments: { legal: true, annotation: false, jsdoc: false },
});
await browser.close();
console.log(`dist/web/page/mqtt-explain.js: ${(pageOutput[0].code.length / 1024).toFixed(1)} KiB`);
