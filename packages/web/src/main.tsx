import "@picocss/pico/css/pico.min.css";
import "./styles.css";
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { RouterProvider } from "@tanstack/react-router";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiError, isUnauthorized } from "./api/client";
import { clearApiKey } from "./api/session";
import { router } from "./router";

/**
 * Any call answered 401 means the stored key no longer works (revoked, or the server's keys changed): forget it
 * and send the person to sign in again with a message, back to the page they were on afterwards.
 */
function onApiError(error: unknown): void {
  if (!isUnauthorized(error)) return;
  clearApiKey();
  queryClient.clear();
  const here = router.state.location.href;
  void router.navigate({
    to: "/sign-in",
    search: { reason: "expired", redirect: here.startsWith("/sign-in") ? undefined : here },
  });
}

const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: onApiError }),
  mutationCache: new MutationCache({ onError: onApiError }),
  defaultOptions: {
    queries: {
      // A 4xx answer (not found, forbidden, bad key) will not change on retry; show it at once.
      retry: (failures, error) =>
        !(error instanceof ApiError && error.status >= 400 && error.status < 500) && failures < 2,
      refetchOnWindowFocus: false,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
