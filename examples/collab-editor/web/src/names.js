// Document names, display names and colours.

/** The colours people get (one at random each time a page opens): readable on white, distinct from each other. */
export const PALETTE = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#ca8a04', '#dc2626', '#4f46e5', '#059669'];

/** A document name as the server accepts it: [a-z0-9_-]{1,64}, from whatever the address said ("welcome" if nothing). */
export function docName(raw) {
  const name = String(raw ?? '').trim().toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 64);
  return name || 'welcome';
}

/** The display name from the address, or a random one. */
export function displayName(raw) {
  const name = String(raw ?? '').trim().slice(0, 32);
  return name || `Guest ${1000 + Math.floor(Math.random() * 9000)}`;
}

export function pickColor() {
  return PALETTE[Math.floor(Math.random() * PALETTE.length)];
}

/** A colour another member announced, if it is a plain CSS hex colour (it goes into style attributes). */
export function safeColor(color) {
  return typeof color === 'string' && /^#[0-9a-f]{3,8}$/i.test(color) ? color : '#6b7280';
}
