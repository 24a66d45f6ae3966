import { useEffect, type ReactNode } from "react";

/** The page's one h1, which also names the browser tab so history and tab lists say where each page is. */
export function PageHeading({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · modelvet`;
  }, [title]);
  return (
    <hgroup>
      <h1>{title}</h1>
      {children && <p>{children}</p>}
    </hgroup>
  );
}
