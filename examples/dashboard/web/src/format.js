// Number formatting for cards, the table and chart axes.

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

const isNumber = (n) => typeof n === 'number' && Number.isFinite(n);

/** A count: "1,234"; "–" for a missing value. */
export const count = (n) => (isNumber(n) ? grouped.format(n) : '–');

/** A rate per second: whole from 10 up (or when whole to a tenth), else one decimal. */
export const rate = (x) => {
  if (!isNumber(x)) return '–';
  return Math.abs(x) >= 10 || Math.abs(x - Math.round(x)) < 0.05 ? grouped.format(x) : oneDecimal.format(x);
};

/** Short axis labels: 950, 1.2k, 35k, 1.5M. */
export const compact = (n) => {
  if (n == null) return '';
  const a = Math.abs(n);
  if (a >= 1e6) return `${+(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return String(+n.toFixed(2));
};

export const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
