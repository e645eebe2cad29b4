import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle ships inside the Python package; autoplat serves it at "/".
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/autoplat/web/dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npm run dev` against a local `autoplat serve` on :8006.
    proxy: { "/api": "http://127.0.0.1:8006", "/ws": { target: "ws://127.0.0.1:8006", ws: true } },
  },
});
