// Small helpers shared by the page's parts. Everything a device or a user typed reaches the page
// as text nodes (textContent), never as HTML, so a topic named <script> is shown, not run.

/**
 * An element: h('p', { class: 'note' }, 'text', child). Attributes whose value is undefined or
 * false are left out; `true` sets an empty attribute.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** `0.4 ms`, `12 ms`, `4.2 s`, `2 min 5 s`. */
export function duration(ms) {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1000)} s`;
}

/** `1 byte`, `14 bytes`. */
export function bytes(n) {
  return `${n} byte${n === 1 ? '' : 's'}`;
}

/** JSON POST to the page's own server; resolves with the parsed answer and its status. */
export async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  let answer;
  try {
    answer = await response.json();
  } catch {
    answer = { error: `the server answered ${response.status} without JSON` };
  }
  return { ok: response.ok, status: response.status, answer };
}
