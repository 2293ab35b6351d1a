import fs from 'node:fs';
import { z } from '../http/zod';
import { MAX_AMOUNT, SUPPORTED_CURRENCIES } from '../shared/money';
import { invalidRequest } from '../shared/errors';

export const catalogItemSchema = z.object({
  sku: z.string().regex(/^[a-z0-9_]{1,64}$/, 'sku must be 1–64 lower-case letters, digits or underscores'),
  name: z.string().min(1).max(200),
  category: z.string().min(1).max(64),
  amount: z.number().int().positive().max(MAX_AMOUNT),
  currency: z.enum(SUPPORTED_CURRENCIES as [string, ...string[]]),
});

export type CatalogItem = z.infer<typeof catalogItemSchema>;

const catalogFileSchema = z.object({ items: z.array(catalogItemSchema).min(1) }).superRefine((file, ctx) => {
  const seen = new Set<string>();
  file.items.forEach((item, index) => {
    if (seen.has(item.sku)) ctx.addIssue({ code: 'custom', path: ['items', index, 'sku'], message: `duplicate sku ${item.sku}` });
    seen.add(item.sku);
  });
});

/** The server-side price list: the only source of amounts. Clients name a sku, never a price. */
export class Catalog {
  private readonly bySku: Map<string, CatalogItem>;

  constructor(readonly items: CatalogItem[]) {
    this.bySku = new Map(items.map((item) => [item.sku, item]));
  }

  static fromFile(file: string): Catalog {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`CATALOG_FILE ${file} could not be read as JSON: ${(error as Error).message}`);
    }
    const result = catalogFileSchema.safeParse(parsed);
    if (!result.success) {
      const lines = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
      throw new Error(`CATALOG_FILE ${file} is invalid:\n  - ${lines.join('\n  - ')}`);
    }
    return new Catalog(result.data.items);
  }

  find(sku: string): CatalogItem {
    const item = this.bySku.get(sku);
    if (!item) throw invalidRequest('unknown_sku', `No catalog item has the sku "${sku}".`, 'sku');
    return item;
  }
}
