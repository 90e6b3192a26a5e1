// The snapshots behind the charts: ordered by time, one per `time` (history and live publications overlap), at most
// `max` of them (the newest).

export function createStore(max) {
  const snapshots = [];
  return {
    snapshots,
    /** Adds a snapshot; false when it was already there (same time) or is not a snapshot. */
    add(snapshot) {
      if (!snapshot || typeof snapshot.time !== 'number' || !Number.isFinite(snapshot.time)) return false;
      const last = snapshots[snapshots.length - 1];
      if (!last || snapshot.time > last.time) {
        snapshots.push(snapshot);
      } else {
        // Older than the newest (history arriving after live snapshots): into its place, unless already there.
        let i = snapshots.length - 1;
        while (i >= 0 && snapshots[i].time > snapshot.time) i--;
        if (i >= 0 && snapshots[i].time === snapshot.time) return false;
        snapshots.splice(i + 1, 0, snapshot);
      }
      if (snapshots.length > max) snapshots.splice(0, snapshots.length - max);
      return true;
    },
    get latest() { return snapshots[snapshots.length - 1] ?? null; },
    get size() { return snapshots.length; },
  };
}
