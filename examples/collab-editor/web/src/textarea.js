// Binds a <textarea> to a Y.Text, both ways.
//
// Local: every `input` event is turned into one delete and one insert (the old and new values minus their common
// prefix and suffix), applied in a single transaction with origin LOCAL.
// Remote: any other transaction that changes the text sets the textarea's value, and the local caret and selection
// stay where they were in the text: they are taken as relative positions just before such a transaction and
// turned back into indices after it.
import * as Y from 'yjs';

export const LOCAL = 'local';

const isHighSurrogate = (code) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code) => code >= 0xdc00 && code <= 0xdfff;

/**
 * The change from `before` to `after`: `{ index, remove, insert }`. `caret` (the caret after the change) breaks
 * ties: typing "a" into "a|a" inserted at 1 rather than at 0 or 2, so that the relative positions of others stay
 * right. Never splits a surrogate pair.
 */
export function diff(before, after, caret = after.length) {
  const maxSuffix = Math.max(0, Math.min(before.length, after.length - caret));
  let suffix = 0;
  while (suffix < maxSuffix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
  const maxPrefix = Math.min(before.length, after.length) - suffix;
  let prefix = 0;
  while (prefix < maxPrefix && before[prefix] === after[prefix]) prefix++;
  // If the common suffix was too short because of the caret, it may grow now that the prefix is known.
  const maxSuffix2 = Math.min(before.length, after.length) - prefix;
  while (suffix < maxSuffix2 && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) prefix--;
  if (suffix > 0 && isLowSurrogate(before.charCodeAt(before.length - suffix))) suffix--;
  return {
    index: prefix,
    remove: before.length - prefix - suffix,
    insert: after.slice(prefix, after.length - suffix),
  };
}

/**
 * @param {HTMLTextAreaElement} textarea
 * @param {Y.Text} ytext
 * @param {{ onRemoteChange?: () => void, maxInsert?: number, onTooLarge?: () => void }} hooks
 *   `maxInsert`: longest text one input may insert (a paste); a longer one is undone and `onTooLarge` called,
 *   as its update would not fit in one message to the server.
 */
export function bindTextarea(textarea, ytext, hooks = {}) {
  const doc = ytext.doc;
  let saved = null;

  // The selection as relative positions, so that it survives changes elsewhere in the text. A caret sticks to the
  // character on its left (text inserted right where it is goes after it); a selection keeps its ends inside it.
  const capture = () => {
    if (textarea.value !== ytext.toString()) return null;
    const { selectionStart: start, selectionEnd: end, selectionDirection: direction } = textarea;
    const collapsed = start === end;
    return {
      start: Y.createRelativePositionFromTypeIndex(ytext, start, collapsed ? -1 : 0),
      end: Y.createRelativePositionFromTypeIndex(ytext, end, -1),
      direction,
      fallback: [start, end],
    };
  };

  const restore = (selection) => {
    const length = textarea.value.length;
    const resolve = (relative, index) => {
      const absolute = relative && Y.createAbsolutePositionFromRelativePosition(relative, doc);
      return Math.min(length, absolute && absolute.type === ytext ? absolute.index : index);
    };
    let start = resolve(selection?.start, selection?.fallback[0] ?? length);
    const end = resolve(selection?.end, selection?.fallback[1] ?? length);
    if (start > end) start = end;
    textarea.setSelectionRange(start, end, selection?.direction ?? 'none');
  };

  const showRemote = () => {
    const value = ytext.toString();
    if (textarea.value === value) return;
    const { scrollTop, scrollLeft } = textarea;
    const selection = saved ?? { start: null, end: null, direction: textarea.selectionDirection, fallback: [textarea.selectionStart, textarea.selectionEnd] };
    textarea.value = value;
    restore(selection);
    textarea.scrollTop = scrollTop;
    textarea.scrollLeft = scrollLeft;
    hooks.onRemoteChange?.();
  };

  const beforeTransaction = (transaction) => {
    if (transaction.origin !== LOCAL) saved = capture();
  };
  const observer = (_event, transaction) => {
    if (transaction.origin !== LOCAL) showRemote();
  };
  const afterTransaction = () => {
    saved = null;
  };

  const onInput = () => {
    const before = ytext.toString();
    const after = textarea.value;
    if (before === after) return;
    const change = diff(before, after, textarea.selectionEnd);
    if (hooks.maxInsert !== undefined && change.insert.length > hooks.maxInsert) {
      const caret = change.index;
      textarea.value = before;
      textarea.setSelectionRange(caret, caret);
      hooks.onTooLarge?.();
      return;
    }
    doc.transact(() => {
      if (change.remove > 0) ytext.delete(change.index, change.remove);
      if (change.insert) ytext.insert(change.index, change.insert);
    }, LOCAL);
  };

  doc.on('beforeTransaction', beforeTransaction);
  doc.on('afterTransaction', afterTransaction);
  ytext.observe(observer);
  textarea.addEventListener('input', onInput);
  textarea.value = ytext.toString();

  return {
    /** Shows the text as it is now (after anything that bypassed the observer). */
    refresh: showRemote,
    destroy() {
      doc.off('beforeTransaction', beforeTransaction);
      doc.off('afterTransaction', afterTransaction);
      ytext.unobserve(observer);
      textarea.removeEventListener('input', onInput);
    },
  };
}
