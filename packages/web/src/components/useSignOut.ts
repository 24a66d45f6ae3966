import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useCallback } from "react";
import { clearApiKey } from "../api/session";

export type SignOutReason = "signed-out" | "expired";

/** Forgets the key and every cached answer (the next key may see other workspaces), then shows the sign-in page. */
export function useSignOut() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  return useCallback(
    (reason: SignOutReason) => {
      clearApiKey();
      queryClient.clear();
      void navigate({ to: "/sign-in", search: { reason } });
    },
    [queryClient, navigate],
  );
}
