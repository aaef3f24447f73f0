// What installing the package costs, part by part, from what `npm pack` would ship.
//
//   npm run size      (builds first; the README quotes its output)
//
// npm reports sizes in kB of 1000 bytes; so does this script.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));

const parts = [
  ['the library and the stand-in (dist/pkg, runtime bundles)', (p) => p.startsWith('dist/pkg/') && p !== 'dist/pkg/cli.js'],
  ['the aliot command (dist/pkg/cli.js)', (p) => p === 'dist/pkg/cli.js'],
  ['type declarations with their doc comments (dist/types)', (p) => p.startsWith('dist/types/')],
  ["the page of aliot web (dist/web/page)", (p) => p.startsWith('dist/web/page/')],
  ["the platform's root CAs, the stand-in's loopback test certificate (certs)", (p) => p.startsWith('certs/')],
  ['README, LICENSE, package.json', () => true],
];
const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;
const sums = parts.map(() => ({ bytes: 0, files: 0 }));
for (const file of packed.files) {
  const index = parts.findIndex(([, test]) => test(file.path));
  sums[index].bytes += file.size;
  sums[index].files += 1;
}
console.log(`${packed.name}@${packed.version}: ${kB(packed.size)} packed, ${kB(packed.unpackedSize)} unpacked, ${packed.files.length} files`);
parts.forEach(([name], i) => console.log(`  ${kB(sums[i].bytes).padStart(9)}  ${name} (${sums[i].files} files)`));

// What `import 'aliot-mqtt'` loads: the library's bundle and the chunks it imports, followed.
const sizes = new Map(packed.files.map((file) => [file.path, file.size]));
const loaded = new Set();
const follow = (path) => {
  if (loaded.has(path)) return;
  loaded.add(path);
  const code = readFileSync(join(root, path), 'utf8');
  for (const [, chunk] of code.matchAll(/^import\b[^;]*?\bfrom "\.\/([^"]+)"/gm)) follow(`dist/pkg/${chunk}`);
};
follow('dist/pkg/index.js');
const loadedBytes = [...loaded].reduce((sum, path) => sum + (sizes.get(path) ?? 0), 0);
console.log(`import 'aliot-mqtt' loads ${kB(loadedBytes)} of it (${loaded.size} files of dist/pkg); the stand-in, the aliot command and its page load only when used`);
