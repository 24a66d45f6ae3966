/// <reference types="node" />
// (Node types only here and in test/: the browser code in src/ must not reach for Node globals.)
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The built files are served by @modelvet/server from packages/web/dist (with an SPA fallback), so every asset is
// bundled here and nothing loads from a CDN: the UI works on an offline, self-hosted install.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  server: {
    // `npx vite` during development: API calls go to a running `modelvet serve`.
    proxy: { "/api": process.env.MODELVET_API_URL ?? "http://127.0.0.1:8080" },
  },
});
