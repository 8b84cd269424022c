/**
 * The `next` link of a list page (Glance's image list, Ferry's job list): the same query with the marker moved
 * to the last item shown.
 * @module
 */

export function nextLink(
  path: string,
  query: Record<string, string | string[] | undefined>,
  lastId: string,
): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (name === 'marker' || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, v);
  }
  params.set('marker', lastId);
  return `${path}?${params.toString()}`;
}
