import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestGateway, TestGateway } from '../support/gateway';

/** Ports this process listens on over TCP (IPv4 and IPv6), read from the kernel's socket tables. */
function listeningTcpPorts(): number[] {
  const ours = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (match) ours.add(match[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "ADDR:PORT" in hex; state 0A is LISTEN; field 9 is the socket's inode.
      if (fields.length > 9 && fields[3] === '0A' && ours.has(fields[9])) ports.push(parseInt(fields[1].split(':')[1], 16));
    }
  }
  return ports.sort();
}

describe('the embedded database is reachable by this process only', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway({ embedded: true });
  });
  afterAll(() => test.stop());

  it('listens on no TCP port: the only port this process opened is the gateway’s own', async () => {
    expect((await test.http.get('/readyz')).status).toBe(200);
    expect(listeningTcpPorts()).toEqual([Number(new URL(test.url).port)]);
  });

  it('serves on a Unix socket in DATA_DIR/run, a directory only its owner can enter', () => {
    const dir = path.join(test.gateway.config.dataDir, 'run');
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const socket = path.join(dir, '.s.PGSQL.5432');
    expect(fs.statSync(socket).isSocket()).toBe(true);
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
  });

  (process.getuid?.() === 0 ? it : it.skip)('refuses another user who tries the socket', () => {
    const socket = path.join(test.gateway.config.dataDir, 'run', '.s.PGSQL.5432');
    const probe = spawnSync(
      process.execPath,
      ['-e', `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`],
      { uid: 65534, gid: 65534, encoding: 'utf8' },
    );
    expect(probe.stdout.trim()).toBe('EACCES');
  });
});
