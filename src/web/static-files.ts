/**
 * The page's own files, and nothing else. They are read once, when the server starts, into a
 * table keyed by the exact request path (`/app.js`); a request is answered from the table or not
 * at all. No part of a URL ever becomes part of a file system path, so no spelling of `..`
 * (encoded, double-encoded, with backslashes) can reach a file outside the page.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `src/web/`, `dist/web/` and `dist/pkg/` (the bundled CLI) all sit two levels below the package
 * root; the page is built into dist/web/page/ by `npm run build`.
 */
export const PAGE_DIRECTORY = fileURLToPath(new URL('../../dist/web/page/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * The files of `directory` (not its subdirectories, not dot files, only the types above) by
 * request path; `/` is `index.html`.
 *
 * @throws Error saying how to build the page when there is none.
 */
export function loadPage(directory = PAGE_DIRECTORY): ReadonlyMap<string, StaticFile> {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    throw new Error(`the page is not built (no ${directory}): run npm run build`);
  }
  const files = new Map<string, StaticFile>();
  for (const name of names) {
    const type = TYPES[extname(name)];
    const path = join(directory, name);
    if (type === undefined || name.startsWith('.') || !statSync(path).isFile()) continue;
    files.set(`/${name}`, { body: readFileSync(path), type });
  }
  const index = files.get('/index.html');
  if (index === undefined) throw new Error(`the page is not built (no index.html in ${directory}): run npm run build`);
  files.set('/', index);
  return files;
}
