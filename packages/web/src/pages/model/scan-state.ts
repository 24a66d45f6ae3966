import type { QueryClient } from "@tanstack/react-query";
import { keys } from "../../api/client";
import type { FileScan, ScanStatus } from "../../api/types";

export function isActive(status: ScanStatus | undefined): boolean {
  return status === "queued" || status === "running";
}

/**
 * A finished scan or a re-judgement changes the model's badge, the registry row, and the counts on the project and
 * workspace pages: refresh all of them, not only the tab that asked.
 */
export async function refreshAfterScan(queryClient: QueryClient, scan: FileScan): Promise<void> {
  await Promise.all([
    queryClient.invalidateQueries({ queryKey: keys.fileScans(scan.model_id) }),
    queryClient.invalidateQueries({ queryKey: keys.model(scan.model_id) }),
    queryClient.invalidateQueries({ queryKey: keys.models(scan.project_id) }),
    queryClient.invalidateQueries({ queryKey: keys.project(scan.project_id) }),
    queryClient.invalidateQueries({ queryKey: keys.workspace(scan.workspace_id) }),
  ]);
}
