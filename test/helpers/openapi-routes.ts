/**
 * Every route a region describes in its `GET /openapi.json`, for tests that call each one (route-fuzz,
 * the isolation matrix): method, path template, the names of its path and query parameters and the fields
 * of its request body.
 * @module
 */

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}
type Document = { paths: Record<string, Record<string, Operation>> };

export interface DocumentedRoute {
  /** Lower case, as the document spells it: `get`, `post`, … */
  method: string;
  /** The template, with `{name}` for each path parameter. */
  path: string;
  pathNames: string[];
  queryNames: string[];
  /** The fields the request body's schema names (of every media type). */
  bodyFields: string[];
  /** The first media type of the request body (application/json when it has none). */
  mediaType: string;
}

/** The routes of the region at `base`, in the document's order. */
export async function documentedRoutes(base: string): Promise<DocumentedRoute[]> {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Document;
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const content = operation.requestBody?.content ?? {};
      return {
        method,
        path,
        pathNames: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
        queryNames: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        bodyFields: Object.values(content).flatMap((c) => Object.keys(c.schema?.properties ?? {})),
        mediaType: Object.keys(content)[0] ?? 'application/json',
      };
    }),
  );
}

/** The path with each `{name}` replaced by its value, URL-encoded. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${path}`);
    return encodeURIComponent(value);
  });
}
