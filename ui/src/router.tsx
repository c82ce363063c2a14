// A small router over the History API: screens live under /ui/<route>. Only paths and
// non-secret parameters (policy names, a path to explain) ever go in the URL; the share page's
// token sits in the fragment and is removed from the address bar as soon as it is read.
import { useEffect, useState } from 'react';
import type { MouseEvent, ReactNode } from 'react';

export const BASE = '/ui/';

function current(): string {
  const path = window.location.pathname;
  if (!path.startsWith(BASE)) return '';
  try {
    return decodeURIComponent(path.slice(BASE.length));
  } catch {
    return '';
  }
}

/** The URL of a route: each path segment encoded, optional query parameters. */
export function href(route: string, query?: Readonly<Record<string, string>>): string {
  const path = BASE + route.split('/').map(encodeURIComponent).join('/');
  const search = query === undefined ? '' : new URLSearchParams(query).toString();
  return search === '' ? path : `${path}?${search}`;
}

const listeners = new Set<() => void>();

export function navigate(
  route: string,
  query?: Readonly<Record<string, string>>,
  options: { readonly replace?: boolean } = {},
): void {
  const url = href(route, query);
  if (options.replace === true) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const listener of listeners) listener();
}

/** The route (path after /ui/, decoded) and its query; re-renders on navigation. */
export function useRoute(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => {
      setTick((n) => n + 1);
    };
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return { path: current(), query: new URLSearchParams(window.location.search) };
}

/** An in-app link: a real <a href> (open in new tab works), navigated without a reload. */
export function Link(props: {
  to: string;
  query?: Readonly<Record<string, string>>;
  children: ReactNode;
  className?: string;
  current?: boolean;
}) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(props.to, props.query);
  };
  return (
    <a
      href={href(props.to, props.query)}
      onClick={onClick}
      className={props.className}
      aria-current={props.current === true ? 'page' : undefined}
    >
      {props.children}
    </a>
  );
}
