// The worker side of warehouse-thread.ts: loads snowflake-sdk at once, then runs each session's
// statements with snowflakeConnection() and answers with rows or a serialized error.
import { parentPort } from 'node:worker_threads';
import { preloadSnowflakeSdk, snowflakeConnection, type SnowflakeConnection } from './warehouse.js';
import { serializeError, type ThreadAnswer, type ThreadRequest } from './warehouse-thread.js';

const port = parentPort!;
const sessions = new Map<string, SnowflakeConnection>();
const answer = (a: ThreadAnswer) => port.postMessage(a);

void preloadSnowflakeSdk();

port.on('message', (r: ThreadRequest) => {
  void (async () => {
    try {
      if (r.kind === 'query') {
        let session = sessions.get(r.session);
        if (!session) sessions.set(r.session, (session = snowflakeConnection(r.options)));
        answer({ id: r.id, rows: await session.query(r.sql, r.binds) });
      } else if (r.kind === 'close') {
        await sessions.get(r.session)?.close();
        sessions.delete(r.session);
        answer({ id: r.id, done: true });
      } else {
        await Promise.all([...sessions.values()].map((s) => s.close()));
        sessions.clear();
        answer({ id: r.id, done: true });
      }
    } catch (e) {
      answer({ id: r.id, error: serializeError(e) });
    }
  })();
});
