import { answersWithin } from '../runtime/deadline.js';
import { registry } from './metrics.js';

/** Reads something at scrape time (the database, the disk) into the registry's gauges. */
export type ScrapeProbe = () => Promise<void>;
/** Text in Prometheus's exposition format from elsewhere in this process (the Temporal SDK's own metrics). */
export type TextSource = () => Promise<string>;

/**
 * A scrape never waits longer than this for a probe; a gauge whose probe is late keeps its last
 * value (a probe that must not, like database_up, bounds itself more tightly).
 */
const PROBE_TIMEOUT_MS = 2000;

const probes = new Set<ScrapeProbe>();
const sources = new Set<TextSource>();

/**
 * Registers a probe run before each scrape; the returned function removes it (when its service
 * stops). One run at a time: a scrape that finds the last still running waits for that one, so
 * slow probes never pile up.
 */
export function addScrapeProbe(probe: ScrapeProbe): () => void {
  let running: Promise<void> | undefined;
  const once: ScrapeProbe = () =>
    (running ??= probe().finally(() => {
      running = undefined;
    }));
  probes.add(once);
  return () => probes.delete(once);
}

export function addTextSource(source: TextSource): () => void {
  sources.add(source);
  return () => sources.delete(source);
}

export const METRICS_CONTENT_TYPE = registry.contentType;

/** This process's metrics: the registry after its probes ran, then every other source's text. */
export async function scrapeMetrics(): Promise<string> {
  await Promise.all([...probes].map((probe) => answersWithin(probe, PROBE_TIMEOUT_MS)));
  const extra = await Promise.all([...sources].map((source) => source().catch(() => '')));
  return [await registry.metrics(), ...extra.filter(Boolean)].join('\n');
}
