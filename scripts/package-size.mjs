// What installing the package costs, part by part, from what `npm pack` would ship.
//
//   npm run size      (builds first; the README quotes its output)
//
// npm reports sizes in kB of 1000 bytes; so does this script.
import { execFileSync } from 'node:child_process';
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
