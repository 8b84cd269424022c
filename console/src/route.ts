/**
 * The console's address names its view: /console/<region>/<view>, so that a link opens the same region and
 * page. The history API moves between views; the server answers index.html for every /console/ path.
 */
import { useEffect, useState } from 'react';

export const VIEWS = ['images', 'tasks', 'usage'] as const;
export type View = (typeof VIEWS)[number];

export interface Route {
  region: string | null;
  view: View;
}

export function parseRoute(pathname: string): Route {
  const [, , region, view] = pathname.split('/');
  return {
    region: region ? decodeURIComponent(region) : null,
    view: (VIEWS as readonly string[]).includes(view ?? '') ? (view as View) : 'images',
  };
}

export function pathOf(route: { region: string; view: View }): string {
  return `/console/${encodeURIComponent(route.region)}/${route.view}`;
}

export function navigate(route: { region: string; view: View }, replace = false): void {
  const path = pathOf(route);
  if (location.pathname === path) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const onPop = () => setRoute(parseRoute(location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return route;
}
