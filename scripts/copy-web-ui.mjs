// Puts the built web UI inside the server package while it is packed (npm's prepack), and removes it after
// (postpack), so `@modelvet/server` serves the UI on its own without a stale copy left in the repository.
import { cpSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";

const serverDir = process.cwd();
const target = join(serverDir, "web");
const built = join(serverDir, "..", "web", "dist");

rmSync(target, { recursive: true, force: true });
if (!process.argv.includes("--remove")) {
  if (!existsSync(join(built, "index.html"))) {
    console.error(`copy-web-ui: ${built} has no index.html; run \`npm run build\` first`);
    process.exit(1);
  }
  // Source maps stay behind: 1.8 MB the service never serves to anyone who needs them.
  cpSync(built, target, { recursive: true, filter: (src) => !src.endsWith(".map") });
}
