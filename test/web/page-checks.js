// Checks run inside the page by browser.test.ts (page.evaluate of this file's text): plain
// browser JavaScript, kept out of the TypeScript program, which has Node's types and no DOM.
(() => {
  /** WCAG 2 relative luminance of an `rgb(r, g, b)` colour. */
  const parse = (colour) => (colour.match(/[\d.]+/g) ?? []).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  /** The first opaque background behind an element. */
  const background = (element) => {
    for (let e = element; e !== null; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] !== 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  // Every visible element with text of its own whose contrast is under 4.5:1 (WCAG AA).
  const lowContrast = [];
  for (const e of document.querySelectorAll('body *')) {
    const ownText = [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
    if (!ownText || e.offsetParent === null || e.closest('.visually-hidden')) continue;
    const fg = luminance(parse(getComputedStyle(e).color));
    const bg = luminance(background(e));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) lowContrast.push(`${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  // Every control without a name: no label, no text, no aria-label.
  const unnamed = [...document.querySelectorAll('button, input, select, textarea')]
    .filter((e) => {
      const labelled = e.id !== '' && document.querySelector(`label[for="${e.id}"]`) !== null;
      return !labelled && e.closest('label') === null && e.textContent.trim() === '' && !e.getAttribute('aria-label');
    })
    .map((e) => e.outerHTML.slice(0, 80));
  return { lowContrast, unnamed };
})();
