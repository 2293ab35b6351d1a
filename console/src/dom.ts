/**
 * A tiny element builder: text always goes in as text nodes, never as HTML, so nothing a payment or an API
 * answer contains can become markup or script (the CSP forbids inline script as a second line).
 */
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | boolean | undefined | ((event: Event) => void)>;

export function h(tag: string, attributes: Attributes = {}, ...children: (Child | Child[])[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else if (typeof value === 'string') element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces the page's content. */
export function show(...content: Child[]): void {
  const main = document.getElementById('main')!;
  main.replaceChildren();
  for (const child of content) if (child !== null && child !== undefined && child !== false) main.append(typeof child === 'object' ? child : String(child));
}

export function table(headings: string[], rows: Child[][], onRow?: (index: number) => void, testId?: string): HTMLElement {
  return h(
    'table',
    testId ? { 'data-testid': testId } : {},
    h('thead', {}, h('tr', {}, headings.map((heading) => h('th', {}, heading)))),
    h(
      'tbody',
      {},
      rows.map((cells, index) =>
        h('tr', onRow ? { class: 'clickable', onclick: () => onRow(index) } : {}, cells.map((cell) => h('td', {}, cell))),
      ),
    ),
  );
}

export const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency}`;

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

export const status = (value: string) => h('span', { class: `status ${value}`, 'data-testid': 'status' }, value);
