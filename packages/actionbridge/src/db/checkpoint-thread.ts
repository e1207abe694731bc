/**
 * The checkpoint thread (see `checkpointer.ts`): its own connection to the SQLite file, which copies
 * the WAL back into the database whenever the main thread asks, so that work (and its fsyncs) never
 * runs on the event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

const { file, synchronous, closed } = workerData as {
  file: string;
  synchronous: 'NORMAL' | 'FULL';
  /** Set to 1 (and notified) once this thread's connection is closed: the main thread waits on it. */
  closed: Int32Array;
};
const db = new SQLite(file);
db.pragma('busy_timeout = 5000');
db.pragma(`synchronous = ${synchronous}`);
// This connection never writes: it must not checkpoint on its own schedule either.
db.pragma('wal_autocheckpoint = 0');

parentPort?.on('message', (msg: 'checkpoint' | 'close') => {
  if (msg === 'close') {
    db.close();
    Atomics.store(closed, 0, 1);
    Atomics.notify(closed, 0);
    parentPort?.close();
    return;
  }
  try {
    // PASSIVE: copies what no reader still needs and never blocks the main connection's writers.
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort?.postMessage({ ok: true });
  } catch (err) {
    parentPort?.postMessage({ ok: false, error: (err as Error).message });
  }
});
