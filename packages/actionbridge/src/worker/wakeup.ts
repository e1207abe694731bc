import type pg from 'pg';
import type { Logger } from 'pino';

import { WAKE_CHANNEL } from '../store/context.js';

/**
 * Listens for work notifications from other processes sharing one PostgreSQL database. Only a
 * hint: each process still polls, so a lost notification (or a broken connection, re-opened with
 * backoff) costs latency, never work.
 */
export class WakeListener {
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = 250;

  constructor(
    private readonly url: string,
    private readonly onWake: () => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (this.closed) return;
    const { default: driver } = await import('pg');
    const client = new driver.Client({ connectionString: this.url });
    client.on('notification', () => this.onWake());
    client.on('error', (err) => {
      this.log.warn({ err }, 'LISTEN connection lost; reconnecting');
      this.reconnect(client);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
      this.client = client;
      this.retryMs = 250;
    } catch (err) {
      this.log.warn({ err }, 'LISTEN failed; polling meanwhile');
      this.reconnect(client);
    }
  }

  private reconnect(client: pg.Client): void {
    if (this.client === client) this.client = undefined;
    void client.end().catch(() => undefined);
    if (this.closed) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
    setTimeout(() => void this.start(), wait).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }
}
