// Number and time formatting for the ticker's tables.

/** Decimals to show for a price: cents, or four places below 1. */
export const decimals = (price) => (Math.abs(price) >= 1 ? 2 : 4);

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);

/** A price, or a difference of prices with the decimals of `like` (a price). */
export const price = (value, like = value) => (isNumber(value) ? value.toFixed(decimals(like)) : '—');

/** The change of `last` against `open`, as a fraction (0.0123 is +1.23 %), or null when there is no open. */
export const change = (last, open) => (isNumber(last) && isNumber(open) && open > 0 ? last / open - 1 : null);

export const percent = (fraction) => {
  if (fraction === null) return '—';
  const text = (Math.abs(fraction) * 100).toFixed(2);
  if (text === '0.00') return '0.00%';
  return `${fraction > 0 ? '+' : '−'}${text}%`;
};

/** 'up', 'down' or 'flat', for colours. */
export const direction = (fraction) => (fraction === null || Math.abs(fraction) < 0.00005 ? 'flat' : fraction > 0 ? 'up' : 'down');

const grouping = new Intl.NumberFormat('en-US');
export const size = (value) => (isNumber(value) ? grouping.format(value) : '—');

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
export const volume = (value) => (isNumber(value) ? compact.format(value) : '—');

const pad = (n) => String(n).padStart(2, '0');
/** Local wall-clock time of a Date: HH:MM:SS, or HH:MM without seconds. */
export const clock = (date, seconds = true) =>
  `${pad(date.getHours())}:${pad(date.getMinutes())}${seconds ? `:${pad(date.getSeconds())}` : ''}`;
