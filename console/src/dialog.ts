import { ApiFailure } from './api.js';
import { h } from './dom.js';

export interface Confirmation {
  title: string;
  /** What happens, in words, before the person confirms. */
  consequence: string;
  confirmLabel: string;
  danger?: boolean;
  /** An amount field (minor units), for refunds. */
  amount?: { max: number };
  /** Runs with the reason (and amount); a failure is shown in the dialog, which stays open. */
  run: (input: { reason: string; amount?: number; idempotencyKey: string }) => Promise<void>;
}

/**
 * Every action that changes money goes through this: a reason (1–500 characters, it goes into the audit
 * log), a confirmation button, and one Idempotency-Key per dialog so a double click acts once.
 */
export function confirmAction(options: Confirmation): void {
  const dialog = document.getElementById('dialog') as HTMLDialogElement;
  const idempotencyKey = crypto.randomUUID();
  const reason = h('textarea', { name: 'reason', maxlength: '500', required: true, 'data-testid': 'reason' }) as HTMLTextAreaElement;
  const amount = options.amount
    ? (h('input', { name: 'amount', type: 'number', min: '1', max: String(options.amount.max), placeholder: `up to ${options.amount.max}`, 'data-testid': 'amount' }) as HTMLInputElement)
    : undefined;
  const message = h('p', { 'data-testid': 'dialog-message' });
  const confirm = h('button', { type: 'button', class: options.danger ? 'danger' : 'primary', 'data-testid': 'confirm' }, options.confirmLabel) as HTMLButtonElement;
  confirm.addEventListener('click', async () => {
    const text = reason.value.trim();
    if (text.length === 0) {
      message.replaceChildren(h('span', { class: 'error' }, 'A reason is required.'));
      return;
    }
    confirm.disabled = true;
    try {
      await options.run({ reason: text, amount: amount?.value ? Number(amount.value) : undefined, idempotencyKey });
      dialog.close();
    } catch (error) {
      const shown = error instanceof ApiFailure ? `${error.code}: ${error.message}` : String(error);
      message.replaceChildren(h('span', { class: 'error', 'data-testid': 'dialog-error' }, shown));
      confirm.disabled = false;
    }
  });
  dialog.replaceChildren(
    h('h2', {}, options.title),
    h('p', {}, options.consequence),
    ...(amount ? [h('label', {}, 'Amount (minor units; empty = all that is left)'), amount] : []),
    h('label', {}, 'Reason (recorded in the audit log)'),
    reason,
    message,
    h('div', { class: 'actions' }, confirm, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
  );
  dialog.showModal();
  reason.focus();
}
