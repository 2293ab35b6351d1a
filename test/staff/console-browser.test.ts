import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrowserContext, chromium, Page } from 'playwright-core';
import { startTestGateway, TestGateway } from '../support/gateway';
import { paidPayment, staffToken } from '../support/staff';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** CI uploads this folder (see README, "Ops"). */
const SCREENSHOTS = path.resolve('test-artifacts/screenshots');
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`console browser tests SKIPPED: no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`);

/** The console is static files built by tsc; a clean clone has not built them yet. */
function buildConsole() {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'console/tsconfig.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['console/copy-assets.js'], { stdio: 'inherit' });
}

(haveChromium ? describe : describe.skip)('the review console in Chromium', () => {
  let test: TestGateway;
  let context: BrowserContext;
  let profile: string;
  beforeAll(async () => {
    buildConsole();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    test = await startTestGateway();
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await test?.stop();
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  /** A fresh tab (its own sessionStorage), signed in by pasting the token as a person would. */
  async function signedIn(token: string): Promise<Page> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => message.type() === 'error' && !/status of 404/.test(message.text()) && problems.push(message.text()));
    // Chromium asks for /favicon.ico on its own; any other missing file is the console's fault.
    page.on('response', (response) => response.status() === 404 && !response.url().endsWith('/favicon.ico') && problems.push(`404 ${response.url()}`));
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${test.url}/ops/`);
    await page.getByTestId('token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#who').waitFor();
    (page as Page & { problems?: string[] }).problems = problems;
    return page;
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const statusOf = async (id: string) => (await test.gateway.db.one<{ status: string }>('SELECT status FROM payments WHERE id = $1', [id]))!.status;

  async function decide(page: Page, id: string, verdict: 'approve' | 'reject', reason: string) {
    await page.goto(`${test.url}/ops/#/queue`);
    await page.getByTestId('queue').getByText(id).click();
    await page.getByTestId(verdict).click();
    await page.getByTestId('reason').fill(reason);
    await shot(page, `${verdict}-dialog`);
    await page.getByTestId('confirm').click();
    await page.locator('h1 [data-testid=status]').getByText(verdict === 'approve' ? 'succeeded' : 'refunded').waitFor();
  }

  it('a reviewer approves one held payment and rejects another', async () => {
    const approved = await paidPayment(test, { held: true, name: 'browser-approve' });
    const rejected = await paidPayment(test, { held: true, name: 'browser-reject' });
    const page = await signedIn(await staffToken(test, 'rita', ['reviewer']));
    await page.getByTestId('queue').getByText(approved).waitFor();
    await shot(page, 'review-queue');
    await decide(page, approved, 'approve', 'Known customer, confirmed by phone');
    await shot(page, 'approved-payment');
    await decide(page, rejected, 'reject', 'Emulator with a stolen card pattern');
    expect([await statusOf(approved), await statusOf(rejected)]).toEqual(['succeeded', 'refunded']);
    expect((page as Page & { problems?: string[] }).problems).toEqual([]);
  });

  it('a viewer sees no approve button, and calling the API anyway is a 403', async () => {
    const held = await paidPayment(test, { held: true, name: 'browser-viewer' });
    const viewerToken = await staffToken(test, 'victor', ['viewer']);
    const page = await signedIn(viewerToken);
    await page.goto(`${test.url}/ops/#/payment/${held}`);
    await page.getByTestId('decision').waitFor();
    await shot(page, 'viewer-payment');
    expect(await page.getByTestId('approve').count()).toBe(0);
    expect(await page.getByTestId('reveal').count()).toBe(0);
    // From inside the signed-in page, as a curious viewer with the browser's devtools would.
    const status = await page.evaluate(async ([id, bearer]) => {
      const response = await fetch(`/v1/ops/payments/${id}/approve`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'viewer-try' },
        body: JSON.stringify({ reason: 'I can do this' }),
      });
      return [response.status, ((await response.json()) as { error: { code: string } }).error.code];
    }, [held, viewerToken]);
    expect(status).toEqual([403, 'insufficient_role']);
    expect(await statusOf(held)).toBe('held_for_review');
  });

  it('a reveal with a reason shows the plaintext and appears in the audit view', async () => {
    const held = await paidPayment(test, { held: true, name: 'browser-reveal' });
    const page = await signedIn(await staffToken(test, 'rex', ['reviewer', 'auditor']));
    await page.goto(`${test.url}/ops/#/payment/${held}`);
    const personal = page.getByTestId('personal');
    await personal.getByText(/^usr_/).waitFor();
    expect(await personal.textContent()).not.toContain('browser-reveal');
    await page.getByTestId('reveal').click();
    await page.getByTestId('reason').fill('Ticket 4711: customer asked which account paid');
    await page.getByTestId('confirm').click();
    await page.getByTestId('revealed').getByText(/browser-reveal-/).waitFor();
    await shot(page, 'revealed');
    await page.goto(`${test.url}/ops/#/audit`);
    const row = page.getByTestId('audit').locator('tr', { hasText: 'payment.reveal' });
    await row.getByText('Ticket 4711').waitFor();
    expect(await row.textContent()).toContain(`payment:${held}`);
    await shot(page, 'audit-log');
  });

  it('the console is served with a strict policy and sets no cookie', async () => {
    const response = await test.http.get('/ops/');
    expect(response.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(response.headers['content-security-policy']).not.toMatch(/unsafe-inline/);
    expect(response.headers['set-cookie']).toBeUndefined();
    expect((await test.http.get('/ops/../package.json')).status).toBe(404);
  });
});
