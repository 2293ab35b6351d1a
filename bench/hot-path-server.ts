/**
 * One server of `npm run bench`, in its own process so that its CPU and peak RSS are its own:
 *   floor   — express 5 and one pg INSERT per request: the most a Node service on this database can do;
 *   gateway — the real gateway (createGateway), configured by the environment the bench hands it.
 * Talks to the bench over IPC: sends { ready, url, … } once listening, answers { stats } on request.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import v8 from 'node:v8';
import express from 'express';
import { Pool } from 'pg';
import { createGateway } from '../src/app/context';
import { startServer } from '../src/app/server';
import { loadConfig } from '../src/config';

export interface Issuer {
  privateKeyPem: string;
  iss: string;
  aud: string;
}

type Reply = { type: 'ready'; url: string; issuer?: Issuer; heapLimitMb: number } | { type: 'stats'; roundTrips: number; peakRssMb: number; cpuMs: number };
const send = (message: Reply) => process.send!(message);
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
/** CPU (user + system) this process used so far: per request, it is steadier than req/s on a busy machine. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function floor(): Promise<{ url: string; roundTrips: () => number }> {
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');
  let inserts = 0;
  const app = express();
  app.use(express.json());
  app.post('/floor', async (req, res) => {
    inserts += 1;
    const { rows } = await pool.query('INSERT INTO bench_floor (body) VALUES ($1) RETURNING id', [JSON.stringify(req.body)]);
    res.status(201).json({ id: rows[0].id });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, roundTrips: () => inserts };
}

/** The gateway, and the embedded issuer's key for the bench to sign its users' tokens with (its own CPU, not the gateway's). */
async function gateway(): Promise<{ url: string; roundTrips: () => number; issuer: Issuer }> {
  const gw = await createGateway(loadConfig(process.env));
  const server = await startServer(gw, { host: '127.0.0.1', port: 0 });
  const issuer = { privateKeyPem: gw.keys.embeddedJwt!.privateKeyPem, iss: gw.config.auth.issuer, aud: gw.config.auth.audience };
  return { url: server.url, roundTrips: () => gw.db.roundTrips.count, issuer };
}

/** BENCH_PROFILE=1: a CPU profile of each measured run alone, written to bench-profile/<label>.cpuprofile. */
async function measuredRunProfiler() {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  return {
    start: () => session.post('Profiler.start'),
    async stop(label: string) {
      const { profile } = await session.post('Profiler.stop');
      fs.mkdirSync('bench-profile', { recursive: true });
      fs.writeFileSync(path.join('bench-profile', `${label}.cpuprofile`), JSON.stringify(profile));
    },
  };
}

async function main() {
  const started: { url: string; roundTrips: () => number; issuer?: Issuer } = process.argv[2] === 'floor' ? await floor() : await gateway();
  const profiler = process.env.BENCH_PROFILE && process.argv[2] === 'gateway' ? await measuredRunProfiler() : undefined;
  process.on('message', async (message: { type: string; phase?: 'start' | 'end'; label?: string }) => {
    if (message.type === 'stats') {
      // The counters are read before the profiler starts and before it stops: its own work stays out of them.
      const stats: Reply = { type: 'stats', roundTrips: started.roundTrips(), peakRssMb: peakRssMb(), cpuMs: cpuMs() };
      if (message.phase === 'start') await profiler?.start();
      send(stats);
      if (message.phase === 'end') await profiler?.stop(message.label!);
    }
    if (message.type === 'stop') process.exit(0);
  });
  send({ type: 'ready', url: started.url, issuer: started.issuer, heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
