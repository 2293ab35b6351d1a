import type { Catalog, CatalogItem } from '../catalog/catalog';
import type { Sql } from '../db/database';
import { hasConsent } from './consents';

/** Purchases that count as the user's taste: paid, and not wholly refunded. */
const PURCHASED = ['succeeded', 'partially_refunded', 'disputed'];

/**
 * Ranks the catalog for one user. With their consent, by how often they bought in each item's category,
 * read from the payments' readable accounting fields (sku, status): nothing new is collected, nothing
 * leaves the gateway. Without it, everyone gets the catalog in its own order, and the answer says so.
 */
export async function recommendFor(deps: { db: Sql; catalog: Catalog }, userHash: string) {
  if (!(await hasConsent(deps.db, userHash, 'personalised_recommendations'))) {
    return {
      object: 'list' as const,
      personalised: false,
      basis: 'catalog_order' as const,
      reason: 'You have not consented to personalised recommendations (purpose personalised_recommendations).',
      data: deps.catalog.items,
    };
  }
  const bought = await deps.db.many<{ sku: string; purchases: number }>(
    'SELECT sku, count(*)::int AS purchases FROM payments WHERE user_hash = $1 AND status = ANY($2) GROUP BY sku',
    [userHash, PURCHASED],
  );
  return { object: 'list' as const, personalised: true, basis: 'purchase_categories' as const, reason: null, data: rank(deps.catalog.items, bought) };
}

/** Items of the most bought categories first; ties (and categories never bought) keep the catalog's order. */
function rank(items: CatalogItem[], bought: { sku: string; purchases: number }[]): CatalogItem[] {
  const categoryOf = new Map(items.map((item) => [item.sku, item.category]));
  const weight = new Map<string, number>();
  for (const { sku, purchases } of bought) {
    const category = categoryOf.get(sku);
    if (category) weight.set(category, (weight.get(category) ?? 0) + purchases);
  }
  return items
    .map((item, index) => ({ item, index, weight: weight.get(item.category) ?? 0 }))
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .map(({ item }) => item);
}
