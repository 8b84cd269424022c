/**
 * A region process's figures for Prometheus (`GET /metrics`): requests by route, bytes uploaded, downloaded
 * and sent or received between regions, jobs by status, lease takeovers, GC and scrub results, blob driver
 * errors, and Node's own process figures. Each region has a registry of its own (a test or the local demo
 * runs several regions in one process), and every series carries the region's name.
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RegionMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpSeconds: Histogram<'method' | 'route'>;
  readonly uploadedBytes: Counter;
  readonly downloadedBytes: Counter;
  /** Image bytes this region sent to destinations (as the source of a replication). */
  readonly replicationSentBytes: Counter;
  /** Image bytes this region received and stored (as the destination of a replication). */
  readonly replicationReceivedBytes: Counter;
  readonly leaseTakeovers: Counter;
  readonly gcRuns: Counter;
  readonly gcDeletedObjects: Counter;
  readonly scrubbedBytes: Counter;
  readonly scrubCorruptChunks: Counter;
  readonly blobDriverErrors: Counter<'operation'>;
  /** Jobs by role and status, counted from the database when scraped (see `countJobs`). */
  readonly jobs: Gauge<'role' | 'status'>;
}

export interface JobCount {
  role: string;
  status: string;
  count: number;
}

/**
 * A region's metrics. `countJobs` is asked at each scrape. `processMetrics` adds Node's own (CPU, memory,
 * event loop): once per process, since they describe the process, not the region.
 */
export function createRegionMetrics(
  region: string,
  countJobs: () => Promise<JobCount[]>,
  processMetrics = true,
): RegionMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ region });
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'ferry_' });
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  return {
    registry,
    httpRequests: counter('ferry_http_requests_total', 'HTTP requests answered', [
      'method',
      'route',
      'status',
    ]),
    httpSeconds: new Histogram({
      name: 'ferry_http_request_duration_seconds',
      help: 'Time from request to answer, by route (uploads and downloads included)',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600],
      registers,
    }),
    uploadedBytes: counter('ferry_uploaded_bytes_total', 'Image bytes of completed uploads'),
    downloadedBytes: counter('ferry_downloaded_bytes_total', 'Image bytes sent to downloads'),
    replicationSentBytes: counter(
      'ferry_replication_sent_bytes_total',
      'Image bytes sent to other regions as a replication source',
    ),
    replicationReceivedBytes: counter(
      'ferry_replication_received_bytes_total',
      'Image bytes received and stored as a replication destination',
    ),
    leaseTakeovers: counter(
      'ferry_job_lease_takeovers_total',
      'Jobs this process claimed after another worker’s lease lapsed',
    ),
    gcRuns: counter('ferry_gc_runs_total', 'Garbage collection runs finished'),
    gcDeletedObjects: counter(
      'ferry_gc_deleted_objects_total',
      'Unreferenced objects garbage collection deleted',
    ),
    scrubbedBytes: counter('ferry_scrub_checked_bytes_total', 'Stored bytes the scrub re-read and verified'),
    scrubCorruptChunks: counter('ferry_scrub_corrupt_chunks_total', 'Chunks the scrub found corrupt'),
    blobDriverErrors: counter('ferry_blob_driver_errors_total', 'Failed blob store operations', [
      'operation',
    ]),
    jobs: new Gauge({
      name: 'ferry_jobs',
      help: 'Jobs in this region’s database by role and status',
      labelNames: ['role', 'status'],
      registers,
      async collect() {
        this.reset();
        for (const { role, status, count } of await countJobs()) this.set({ role, status }, count);
      },
    }),
  };
}
