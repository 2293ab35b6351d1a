import { api, ApiFailure, Staff } from './api.js';
import { confirmAction } from './dialog.js';
import { h, money, show, status, table, when } from './dom.js';

/** API answers are read as they come: the server's schemas (in /openapi.json) are the contract. */
type Json = any;

const can = (staff: Staff, ...roles: string[]) => staff.roles.some((role) => roles.includes(role));
const go = (hash: string) => (location.hash = hash);
const errorBox = (error: unknown) =>
  h('p', { class: 'error', 'data-testid': 'error' }, error instanceof ApiFailure ? `${error.status} ${error.code}: ${error.message}` : String(error));

const paymentRows = (payments: Json[]) =>
  payments.map((p) => [p.id, status(p.status), money(p.amount, p.currency), p.item.sku, p.review_reason ?? '—', h('span', { class: 'masked' }, p.personal_data.user), when(p.created_at)]);
const PAYMENT_HEADINGS = ['Payment', 'Status', 'Amount', 'Item', 'Why held', 'User', 'Created'];

export async function queueView(): Promise<void> {
  const queue = await api<{ data: Json[] }>('GET', '/v1/ops/review-queue');
  show(
    h('h1', {}, `Review queue (${queue.data.length})`),
    queue.data.length === 0
      ? h('p', { 'data-testid': 'queue-empty' }, 'Nothing is held for review.')
      : table([...PAYMENT_HEADINGS, 'Held since'], queue.data.map((p, i) => [...paymentRows([p])[0], when(queue.data[i].held_at)]), (i) => go(`#/payment/${queue.data[i].id}`), 'queue'),
  );
}

export async function searchView(params: URLSearchParams): Promise<void> {
  const form = h('form', { class: 'inline', 'data-testid': 'search' }) as HTMLFormElement;
  for (const [name, label] of [['id', 'Payment id'], ['provider_ref', 'Provider ref'], ['status', 'Status'], ['sku', 'Sku']]) {
    form.append(h('div', {}, h('label', {}, label), h('input', { name, value: params.get(name) ?? '' })));
  }
  form.append(h('button', { type: 'submit', class: 'primary' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (String(value).trim()) query.set(name, String(value).trim());
    go(`#/search?${query}`);
  });
  const query = new URLSearchParams([...params].filter(([, value]) => value));
  let results: Node;
  try {
    const found = await api<{ data: Json[] }>('GET', `/v1/ops/payments?${query}`);
    results = table(PAYMENT_HEADINGS, paymentRows(found.data), (i) => go(`#/payment/${found.data[i].id}`), 'results');
  } catch (error) {
    results = errorBox(error);
  }
  show(h('h1', {}, 'Payments'), form, h('h2', {}, 'Results'), results);
}

function personalCard(staff: Staff, payment: Json): HTMLElement {
  const masked = payment.personal_data;
  const card = h(
    'div',
    { class: 'card', 'data-testid': 'personal' },
    h('h2', {}, 'Personal data (masked)'),
    table(['User', 'Device', 'IP', 'Location'], [[masked.user, masked.device, masked.ip ?? '—', masked.location ?? '—'].map((v) => h('span', { class: 'masked' }, v))]),
  );
  if (can(staff, 'reviewer', 'refunds', 'risk_admin')) {
    card.append(
      h('div', { class: 'actions' }, h('button', {
        type: 'button', 'data-testid': 'reveal',
        onclick: () => confirmAction({
          title: 'Reveal personal data', consequence: 'The plaintext of this payment will be shown, and your reveal and its reason recorded.', confirmLabel: 'Reveal',
          async run({ reason }) {
            const plain = await api<Json>('POST', `/v1/ops/payments/${payment.id}/reveal`, { body: { reason } });
            card.append(h('pre', { class: 'revealed', 'data-testid': 'revealed' }, JSON.stringify({ user_id: plain.user_id, device: plain.device, ip: plain.ip, location: plain.location }, null, 2)));
          },
        }),
      }, 'Reveal…')),
    );
  }
  return card;
}

function actionButtons(staff: Staff, payment: Json, reload: () => void): HTMLElement {
  const bar = h('div', { class: 'actions', 'data-testid': 'actions' });
  const act = (path: string, body: object, key: string) => api('POST', `/v1/ops/payments/${payment.id}/${path}`, { body, idempotencyKey: key });
  if (payment.status === 'held_for_review' && can(staff, 'reviewer')) {
    bar.append(
      h('button', { type: 'button', class: 'primary', 'data-testid': 'approve', onclick: () => confirmAction({
        title: `Approve ${payment.id}`, consequence: `Release ${money(payment.amount, payment.currency)}: the order will be fulfilled.`, confirmLabel: 'Approve',
        run: async ({ reason, idempotencyKey }) => { await act('approve', { reason }, idempotencyKey); reload(); },
      }) }, 'Approve…'),
      h('button', { type: 'button', class: 'danger', 'data-testid': 'reject', onclick: () => confirmAction({
        title: `Reject ${payment.id}`, consequence: 'Void the authorisation, or refund the money in full.', confirmLabel: 'Reject', danger: true,
        run: async ({ reason, idempotencyKey }) => { await act('reject', { reason }, idempotencyKey); reload(); },
      }) }, 'Reject…'),
    );
  }
  if (payment.refundable_amount > 0 && ['succeeded', 'partially_refunded'].includes(payment.status) && can(staff, 'refunds')) {
    bar.append(h('button', { type: 'button', 'data-testid': 'refund', onclick: () => confirmAction({
      title: `Refund ${payment.id}`, consequence: `Up to ${money(payment.refundable_amount, payment.currency)} can be refunded.`, confirmLabel: 'Refund', danger: true,
      amount: { max: payment.refundable_amount },
      run: async ({ reason, amount, idempotencyKey }) => { await act('refunds', { reason, amount }, idempotencyKey); reload(); },
    }) }, 'Refund…'));
  }
  return bar;
}

export async function paymentView(staff: Staff, id: string): Promise<void> {
  const p = await api<Json>('GET', `/v1/ops/payments/${encodeURIComponent(id)}`);
  const risk = p.risk;
  show(
    h('h1', {}, p.id, ' ', status(p.status)),
    actionButtons(staff, p, () => void paymentView(staff, id)),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, 'Payment'),
        table(['', ''], [
          ['Amount', money(p.amount, p.currency)], ['Refunded', money(p.refunded_amount, p.currency)], ['Item', `${p.item.quantity} × ${p.item.name} (${p.item.sku})`],
          ['Provider', p.provider], ['Why held', p.review_reason ?? '—'], ['Created', when(p.created_at)],
        ])),
      h('div', { class: 'card', 'data-testid': 'decision' }, h('h2', {}, 'Risk decision'),
        risk ? [
          h('p', {}, `${risk.decision} · score ${risk.score} · rules ${risk.ruleset_version}${risk.fail_mode ? ' · fail mode' : ''}`),
          table(['Rule', 'Reason', 'Action', 'Mode'], risk.rule_hits.map((hit: Json) => [hit.rule, hit.reason, hit.action, hit.mode])),
          h('ul', {}, risk.explanation.reasons.map((reason: Json) => h('li', {}, reason.description))),
        ] : h('p', {}, 'No decision recorded.')),
      personalCard(staff, p)),
    h('h2', {}, 'History'),
    table(['Status', 'At'], p.history.map((entry: Json) => [status(entry.status), when(entry.at)]), undefined, 'history'),
    h('h2', {}, 'Facts'),
    table(['Fact', 'Key', 'Amount', 'At'], p.facts.map((f: Json) => [f.kind, f.key, f.amount === null ? '—' : money(f.amount, f.currency), when(f.occurred_at)]), undefined, 'facts'),
    h('h2', {}, 'Refunds'),
    table(['Refund', 'Amount', 'Status', 'Reason'], p.refunds.map((r: Json) => [r.id, money(r.amount, r.currency), r.status, r.reason])),
    h('h2', {}, "This user's recent payments"),
    table(PAYMENT_HEADINGS, paymentRows(p.user_recent_payments), (i) => go(`#/payment/${p.user_recent_payments[i].id}`)),
  );
}

export async function blocklistView(staff: Staff): Promise<void> {
  const list = await api<{ data: Json[] }>('GET', '/v1/ops/blocklist');
  const admin = can(staff, 'risk_admin');
  const form = h('form', { class: 'inline', 'data-testid': 'blocklist-add' },
    h('div', {}, h('label', {}, 'Kind'), h('select', { name: 'kind' }, ['device', 'user', 'ip'].map((kind) => h('option', { value: kind }, kind)))),
    h('div', {}, h('label', {}, 'Value'), h('input', { name: 'value', required: true })),
    h('div', {}, h('label', {}, 'Note'), h('input', { name: 'note' })),
    h('div', {}, h('label', {}, 'Expires'), h('input', { name: 'expires_at', type: 'date' })),
    h('button', { type: 'submit', class: 'primary' }, 'Add'),
  ) as HTMLFormElement;
  const message = h('div');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form)) as Record<string, string>;
    try {
      await api('POST', '/v1/ops/blocklist', { body: {
        kind: data.kind, value: data.value, note: data.note || undefined,
        expires_at: data.expires_at ? new Date(`${data.expires_at}T23:59:59Z`).toISOString() : undefined,
      } });
      await blocklistView(staff);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  });
  const remove = (entry: Json) => async () => {
    if (!confirm(`Remove this ${entry.kind} entry?`)) return;
    await api('DELETE', `/v1/ops/blocklist/${entry.id}`);
    await blocklistView(staff);
  };
  show(
    h('h1', {}, 'Blocklist'),
    admin && form, message,
    table(['Kind', 'Value', 'Note', 'Added', 'Expires', ''], list.data.map((entry) => [
      entry.kind, h('span', { class: 'masked' }, entry.hashed ? `hash ${entry.value.slice(0, 12)}…` : entry.value), entry.note ?? '', when(entry.created_at), when(entry.expires_at),
      admin && h('button', { type: 'button', onclick: remove(entry) }, 'Remove'),
    ]), undefined, 'blocklist'),
  );
}

export async function auditView(): Promise<void> {
  const log = await api<{ data: Json[] }>('GET', '/v1/ops/audit?limit=100');
  show(
    h('h1', {}, 'Audit log'),
    table(['#', 'At', 'Who', 'Roles', 'Action', 'Resource', 'Outcome', 'Detail'], log.data.map((row) => [
      String(row.seq), when(row.at), row.actor, row.role, row.action, row.resource, row.outcome, JSON.stringify(row.detail),
    ]), undefined, 'audit'),
  );
}

export function loginView(onToken: (token: string) => Promise<void>, problem?: unknown): void {
  const input = h('textarea', { name: 'token', 'data-testid': 'token', placeholder: 'eyJ…', autocomplete: 'off', spellcheck: 'false' }) as HTMLTextAreaElement;
  const form = h('form', { 'data-testid': 'login' }, h('label', {}, 'Staff token'), input, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void onToken(input.value.trim());
  });
  show(
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste a staff token from your identity provider (on a laptop: npm run token -- --ops reviewer --sub you). It is kept in this tab only.'),
    problem ? errorBox(problem) : null,
    form,
  );
}

export { errorBox };
