// Other people's carets and selections over a <textarea>.
//
// A textarea tells nothing about where its characters are drawn, so a hidden "mirror" div with the same font,
// padding, width and wrapping holds the same text, and DOM ranges over the mirror's text measure where a caret at an
// index goes. The marks (2px bars with a name tag, translucent selection boxes) are drawn in a layer laid exactly
// over the textarea's padding box, and scrolled with it.

const MIRRORED = [
  'fontFamily', 'fontSize', 'fontWeight', 'fontStyle', 'fontVariant', 'fontStretch', 'fontKerning', 'fontFeatureSettings',
  'letterSpacing', 'wordSpacing', 'lineHeight', 'textTransform', 'textIndent', 'textAlign', 'tabSize', 'direction',
  'whiteSpace', 'overflowWrap', 'wordBreak', 'hyphens',
  'paddingTop', 'paddingRight', 'paddingBottom', 'paddingLeft',
];

// The mirror's text ends with this (zero width): a caret after a final newline is measured on the line it opens.
const END = '\u200b';
// How far above a caret its name tag reaches; carets nearer the top get their tag below.
const TAG_ROOM = 18;

function element(tag, className, style = {}) {
  const node = document.createElement(tag);
  node.className = className;
  Object.assign(node.style, style);
  return node;
}

export class CaretLayer {
  /**
   * @param {HTMLTextAreaElement} textarea
   * @param {HTMLElement} layer an empty element, absolutely positioned in the textarea's offset parent
   */
  constructor(textarea, layer) {
    this.textarea = textarea;
    this.layer = layer;
    this.mirror = element('div', 'mirror', {
      position: 'absolute', top: '0', left: '0', visibility: 'hidden', boxSizing: 'border-box', border: '0', margin: '0',
    });
    this.marks = element('div', 'marks', { position: 'absolute', top: '0', left: '0', width: '0', height: '0' });
    this.node = document.createTextNode(END);
    this.mirror.append(this.node);
    layer.replaceChildren(this.mirror, this.marks);
    Object.assign(layer.style, { position: 'absolute', overflow: 'hidden', pointerEvents: 'none' });
    layer.setAttribute('aria-hidden', 'true');
    this.carets = [];
    textarea.addEventListener('scroll', () => this.scroll());
    if (typeof ResizeObserver === 'function') new ResizeObserver(() => this.render()).observe(textarea);
    else window.addEventListener('resize', () => this.render());
  }

  /**
   * Draws `carets` (`[{ session, name, color, anchor, head }]`, indices into the textarea's value), or the last
   * ones again (after a change of the text or the layout).
   */
  render(carets = this.carets) {
    this.carets = carets;
    this.layout();
    const text = this.textarea.value + END;
    if (this.node.data !== text) this.node.data = text;
    const length = this.textarea.value.length;
    const base = this.mirror.getBoundingClientRect();
    const lineHeight = parseFloat(getComputedStyle(this.textarea).lineHeight);
    const marks = document.createDocumentFragment();
    for (const caret of carets) {
      const anchor = Math.max(0, Math.min(length, caret.anchor));
      const head = Math.max(0, Math.min(length, caret.head));
      if (anchor !== head) {
        for (const rect of this.rects(Math.min(anchor, head), Math.max(anchor, head))) {
          marks.append(element('div', 'selection', {
            left: `${rect.left - base.left}px`, top: `${rect.top - base.top}px`,
            width: `${Math.max(rect.width, 4)}px`, height: `${rect.height}px`, background: caret.color,
          }));
        }
      }
      const at = this.rects(head, head + 1)[0];
      if (!at) continue;
      const height = Number.isFinite(lineHeight) ? lineHeight : at.height;
      const top = at.top - base.top - (height - at.height) / 2;
      const bar = element('div', 'caret', { left: `${at.left - base.left - 1}px`, top: `${top}px`, height: `${height}px`, background: caret.color });
      bar.dataset.session = caret.session;
      if (top < TAG_ROOM) bar.classList.add('below');
      const tag = element('span', 'tag', { background: caret.color });
      tag.textContent = caret.name;
      bar.append(tag);
      marks.append(bar);
    }
    this.marks.replaceChildren(marks);
    this.scroll();
  }

  /** The client rectangles of the mirror's characters [from, to). */
  rects(from, to) {
    const range = document.createRange();
    range.setStart(this.node, from);
    range.setEnd(this.node, Math.min(to, this.node.data.length));
    return Array.from(range.getClientRects());
  }

  /** Puts the layer over the textarea's padding box and gives the mirror the textarea's text layout. */
  layout() {
    const t = this.textarea;
    const style = getComputedStyle(t);
    for (const property of MIRRORED) this.mirror.style[property] = style[property];
    Object.assign(this.layer.style, {
      top: `${t.offsetTop + t.clientTop}px`, left: `${t.offsetLeft + t.clientLeft}px`,
      width: `${t.clientWidth}px`, height: `${t.clientHeight}px`,
    });
    // clientWidth leaves out the scrollbar, as the textarea's wrapping does.
    this.mirror.style.width = `${t.clientWidth}px`;
  }

  scroll() {
    const transform = `translate(${-this.textarea.scrollLeft}px, ${-this.textarea.scrollTop}px)`;
    this.mirror.style.transform = transform;
    this.marks.style.transform = transform;
  }
}
