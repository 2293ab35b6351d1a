import { findIdentifiers } from '../support/identifier-scan';
import { startTestGateway, TestGateway } from '../support/gateway';
import { aPerson, as, checkoutAs, erase, exportOf, grant } from './support';

/** The rights flow on the embedded database (one connection): nothing may wait on a second one. */
let kalos: TestGateway;

beforeAll(async () => {
  kalos = await startTestGateway({ embedded: true, captureLogs: true, env: { TRUST_PROXY: '1', DATA_REGION: 'CN' } });
});
afterAll(() => kalos?.stop());

test('consents, checkout, export and erasure work on the embedded database', async () => {
  const person = await aPerson(kalos, 'embedded');
  expect((await grant(kalos, person, { personalised_recommendations: true })).status).toBe(200);
  const paid = await checkoutAs(kalos, person);
  expect(paid.status).toBe(201);
  const exported = await exportOf(kalos, person);
  expect(exported.body.payments.map((payment: { personal: { user_id: string } }) => payment.personal.user_id)).toEqual([person.sub]);

  const erased = await erase(kalos, person);
  expect(erased.body.status).toBe('completed');
  expect((await kalos.http.get('/v1/orders').set(as(person))).body.data).toEqual([]);
  expect((await exportOf(kalos, person)).body.payments).toEqual([]);
  expect((await kalos.http.get('/v1/recommendations').set(as(person))).body.personalised).toBe(false);
  // The database files themselves (pages, WAL) never held the identifiers readable: they were sealed from the start.
  await kalos.gateway.db.many('CHECKPOINT');
  const where = { sql: kalos.gateway.db, dataDir: kalos.gateway.config.dataDir, logs: kalos.logs };
  expect(await findIdentifiers(where, [person.sub, person.device.id as string, person.ip])).toEqual([]);
  // The scan does read those files: the readable accounting fields are there.
  expect((await findIdentifiers(where, ['gems_600'])).filter((hit) => hit.startsWith('file:')).length).toBeGreaterThan(0);
});
