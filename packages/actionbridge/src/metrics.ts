import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from './store/store.js';

/** Prometheus metrics of one platform process (`GET /metrics`). */
export class Metrics {
  readonly registry = new Registry();

  readonly attempts = new Counter({
    name: 'actionbridge_delivery_attempts_total',
    help: 'Delivery attempts by verdict (success, retry, fail)',
    labelNames: ['verdict'] as const,
    registers: [this.registry],
  });

  readonly attemptSeconds = new Histogram({
    name: 'actionbridge_delivery_attempt_duration_seconds',
    help: 'Duration of delivery attempts, from send to the end of the response',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly executions = new Counter({
    name: 'actionbridge_executions_finished_total',
    help: 'Executions that reached a final status, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  constructor(store: Store) {
    collectDefaultMetrics({ register: this.registry, prefix: 'actionbridge_' });
    new Gauge({
      name: 'actionbridge_deliveries_pending',
      help: 'Deliveries waiting for their next attempt (all processes sharing the database)',
      registers: [this.registry],
      async collect() {
        this.set(await store.countDeliveries('pending'));
      },
    });
    new Gauge({
      name: 'actionbridge_dead_items',
      help: 'Work the engine gave up on: events whose processing failed every try, deliveries that failed for good',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        this.set({ kind: 'event' }, await store.countDeadEvents());
        this.set({ kind: 'delivery' }, await store.countDeliveries('failed'));
      },
    });
  }
}
