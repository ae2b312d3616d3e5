// `hotpath mprof plot`: memory over time as a standalone SVG (no browser, no canvas), with labelled
// axes in MiB and seconds and the peak marked, like memory_profiler's `mprof plot`.
import { commandLine, type Mprofile, peakSample } from './mprofile.js';

const MIB = 1024 * 1024;
const WIDTH = 800;
const HEIGHT = 450;
const MARGIN = { left: 80, right: 30, top: 56, bottom: 60 };

/** Round steps (1, 2, 5 × 10^k) giving about `target` intervals from 0 to at least `max`. */
function niceTicks(max: number, target = 6): number[] {
  const raw = max / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let i = 0; ticks.length === 0 || ticks[ticks.length - 1] < max; i++)
    ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

function tickLabel(value: number, ticks: number[]): string {
  const step = ticks[1] - ticks[0];
  return value.toFixed(Math.max(0, -Math.floor(Math.log10(step))));
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/** The profile as an SVG document. */
export function renderMemoryPlot(profile: Mprofile): string {
  const samples = profile.samples;
  const peak = peakSample(profile);
  const xTicks = niceTicks(Math.max(samples.at(-1)?.t ?? 0, profile.intervalMs / 1000));
  const yTicks = niceTicks(Math.max(peak ? (peak.rss / MIB) * 1.05 : 0, 1));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (seconds: number) => MARGIN.left + (seconds / xTicks[xTicks.length - 1]) * plotW;
  const y = (bytes: number) => MARGIN.top + plotH - (bytes / MIB / yTicks[yTicks.length - 1]) * plotH;
  const bottom = MARGIN.top + plotH;
  const n = (v: number) => v.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
      `font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text class="title" x="${WIDTH / 2}" y="22" text-anchor="middle" ` +
      `font-size="15">${escapeXml(commandLine(profile, 90))}</text>`,
    `<text class="subtitle" x="${WIDTH / 2}" y="40" text-anchor="middle" ` +
      `fill="#555">${escapeXml(subtitle(profile))}</text>`,
  ];
  out.push('<g class="grid" stroke="#e4e4e4">');
  for (const v of yTicks)
    out.push(`<line x1="${MARGIN.left}" y1="${n(y(v * MIB))}" x2="${MARGIN.left + plotW}" y2="${n(y(v * MIB))}"/>`);
  for (const v of xTicks) out.push(`<line x1="${n(x(v))}" y1="${MARGIN.top}" x2="${n(x(v))}" y2="${bottom}"/>`);
  out.push('</g>');
  out.push(
    `<g class="x-axis"><line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + plotW}" y2="${bottom}" ` +
      `stroke="black"/>`,
  );
  for (const v of xTicks)
    out.push(`<text x="${n(x(v))}" y="${bottom + 18}" text-anchor="middle">${tickLabel(v, xTicks)}</text>`);
  out.push(
    `<text class="axis-label" x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">time ` +
      `(s)</text></g>`,
  );
  out.push(
    `<g class="y-axis"><line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" ` +
      `stroke="black"/>`,
  );
  for (const v of yTicks)
    out.push(`<text x="${MARGIN.left - 8}" y="${n(y(v * MIB) + 4)}" text-anchor="end">${tickLabel(v, yTicks)}</text>`);
  const labelY = MARGIN.top + plotH / 2;
  out.push(
    `<text class="axis-label" x="20" y="${labelY}" text-anchor="middle" transform="rotate(-90 20 ${labelY})">memory ` +
      `used (MiB)</text></g>`,
  );

  if (samples.length > 0) {
    const points = samples.map((s) => `${n(x(s.t))},${n(y(s.rss))}`);
    out.push(
      `<polygon class="area" points="${n(x(samples[0].t))},${bottom} ${points.join(' ')} ` +
        `${n(x(samples.at(-1)!.t))},${bottom}" fill="#1f77b4" fill-opacity="0.12"/>`,
    );
    out.push(
      `<polyline class="memory" points="${points.join(' ')}" fill="none" stroke="#1f77b4" stroke-width="2" ` +
        `stroke-linejoin="round"/>`,
    );
  }
  if (peak) {
    const px = x(peak.t);
    const py = y(peak.rss);
    const label = `peak ${(peak.rss / MIB).toFixed(1)} MiB at ${peak.t.toFixed(2)} s`;
    const onRight = px < MARGIN.left + plotW / 2;
    out.push('<g class="peak" stroke="#d62728" fill="#d62728">');
    out.push(`<line x1="${MARGIN.left}" y1="${n(py)}" x2="${n(px)}" y2="${n(py)}" stroke-dasharray="4 4"/>`);
    out.push(`<line x1="${n(px)}" y1="${n(py)}" x2="${n(px)}" y2="${bottom}" stroke-dasharray="4 4"/>`);
    out.push(`<circle cx="${n(px)}" cy="${n(py)}" r="5"/>`);
    out.push(
      `<text x="${n(px + (onRight ? 10 : -10))}" y="${n(Math.max(py - 8, MARGIN.top + 12))}" ` +
        `text-anchor="${onRight ? 'start' : 'end'}" stroke="none">${label}</text>`,
    );
    out.push('</g>');
  } else {
    out.push(
      `<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH / 2}" text-anchor="middle" fill="#555">no ` +
        `samples: the command ended before the first one</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function subtitle(profile: Mprofile): string {
  const ending = profile.signal ? `killed by ${profile.signal}` : `exit code ${profile.exitCode}`;
  return `${profile.startedAt} · ${profile.samples.length} samples every ${profile.intervalMs} ms · ${ending}`;
}
