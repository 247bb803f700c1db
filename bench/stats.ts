/** Medians, spreads and number formatting for the report. */

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** (max − min) / median over the rounds; NaN with fewer than 2 rounds. */
export function spread(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length < 2) return NaN;
  const m = median(v);
  if (m === 0) return 0;
  return (Math.max(...v) - Math.min(...v)) / Math.abs(m);
}

/** A figure with three significant digits and thousands separated by thin spaces. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  const s = x.toFixed(digits);
  const [int, frac] = s.split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  return frac ? `${grouped}.${frac}` : grouped;
}

export function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : "—";
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Two modes: the runs split into a low and a high cluster, far apart. Sorted values are cut at
 * their widest gap; the runs are called bimodal when each side holds at least two runs (or one
 * run of at least five) and the gap is wider than `minGap` of the median and wider than either
 * cluster's own range. Returns the two clusters' medians, or undefined.
 */
export function twoModes(xs: number[], minGap = 0.25): { low: number; high: number; nLow: number; nHigh: number } | undefined {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length < 4) return undefined;
  let cut = -1;
  let widest = 0;
  for (let i = 1; i < v.length; i++)
    if (v[i] - v[i - 1] > widest) {
      widest = v[i] - v[i - 1];
      cut = i;
    }
  const low = v.slice(0, cut);
  const high = v.slice(cut);
  const m = median(v);
  if (m <= 0 || widest / m < minGap) return undefined;
  if (Math.min(low.length, high.length) < (v.length >= 5 ? 1 : 2)) return undefined;
  const range = (c: number[]) => c[c.length - 1] - c[0];
  if (widest <= range(low) || widest <= range(high)) return undefined;
  return { low: median(low), high: median(high), nLow: low.length, nHigh: high.length };
}
