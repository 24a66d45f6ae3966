import { useQuery } from "@tanstack/react-query";
import { Link, Outlet, useRouterState } from "@tanstack/react-router";
import { useEffect, useRef } from "react";
import { api, keys } from "../api/client";
import { useSignOut } from "./useSignOut";

/** The signed-in frame: a skip link, the site header with sign-out, the page in <main>, and the rules version. */
export function Layout() {
  const signOut = useSignOut();
  const main = useRef<HTMLElement>(null);
  const pathname = useRouterState({ select: (s) => s.location.pathname });
  const rules = useQuery({ queryKey: keys.rules, queryFn: api.rules, staleTime: 60_000 });

  // A client-side navigation does not move focus the way a page load does; put it on <main> so keyboard and
  // screen-reader users start at the new page's content instead of a link that no longer exists. Not on first load.
  const shownPath = useRef(pathname);
  useEffect(() => {
    if (shownPath.current === pathname) return;
    shownPath.current = pathname;
    main.current?.focus();
  }, [pathname]);

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="container site-header">
        <nav aria-label="Main">
          <ul>
            <li>
              {/* exact: on a workspace's page the Workspaces list is not "the current page". TanStack's Link sets
                  aria-current itself when active. */}
              <Link to="/workspaces" className="brand" activeOptions={{ exact: true }}>
                modelvet
              </Link>
            </li>
          </ul>
          <ul>
            <li>
              <Link to="/workspaces" activeOptions={{ exact: true }}>
                Workspaces
              </Link>
            </li>
            <li>
              <button type="button" className="secondary outline compact" onClick={() => signOut("signed-out")}>
                Sign out
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main" className="container" tabIndex={-1} ref={main}>
        <Outlet />
      </main>
      <footer className="container site-footer">
        <small>modelvet{rules.data ? ` · rules ${rules.data.version}` : ""}</small>
      </footer>
    </>
  );
}
