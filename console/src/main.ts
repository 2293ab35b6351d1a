import { api, signIn, signOut, Staff, token } from './api.js';
import { auditView, blocklistView, errorBox, loginView, paymentView, queueView, searchView } from './views.js';
import { show } from './dom.js';

/** The console: a hash router over a handful of views; every view reads the ops API with the staff token. */
let staff: Staff | undefined;

function showNav(member: Staff): void {
  const nav = document.getElementById('nav')!;
  nav.hidden = false;
  document.getElementById('who')!.textContent = `${member.id} (${member.roles.join(', ')})`;
  for (const link of nav.querySelectorAll<HTMLElement>('[data-role]')) {
    link.hidden = !link.dataset.role!.split(' ').some((role) => member.roles.includes(role));
  }
}

async function route(): Promise<void> {
  if (!staff) return;
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const [, view, id] = path.split('/');
  try {
    if (view === 'payment' && id) await paymentView(staff, decodeURIComponent(id));
    else if (view === 'search') await searchView(new URLSearchParams(query));
    else if (view === 'blocklist') await blocklistView(staff);
    else if (view === 'audit') await auditView();
    else if (staff.roles.some((role) => role !== 'auditor')) await queueView();
    else await auditView();
  } catch (error) {
    show(errorBox(error));
  }
}

async function start(candidate: string | null): Promise<void> {
  if (!candidate) return loginView(start);
  signIn(candidate);
  try {
    staff = await api<Staff>('GET', '/v1/ops/me');
  } catch (error) {
    signOut();
    return loginView(start, error);
  }
  showNav(staff);
  await route();
}

document.getElementById('sign-out')!.addEventListener('click', () => {
  signOut();
  location.hash = '';
  location.reload();
});
window.addEventListener('hashchange', () => void route());
void start(token());
