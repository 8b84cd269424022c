/**
 * The `first` and `next` links of a list page (Glance's image list, Ferry's job list): the same query, with
 * no marker (first) or the marker moved to the last item shown (next), as Glance builds them.
 * @module
 */

type Query = Record<string, string | string[] | undefined>;

export function firstLink(path: string, query: Query): string {
  const params = withoutMarker(query);
  return params.size === 0 ? path : `${path}?${params.toString()}`;
}

export function nextLink(path: string, query: Query, lastId: string): string {
  const params = withoutMarker(query);
  params.set('marker', lastId);
  return `${path}?${params.toString()}`;
}

function withoutMarker(query: Query): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (name === 'marker' || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  return params;
}
