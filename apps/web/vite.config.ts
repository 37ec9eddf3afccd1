import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The engine's limits, defaults and telemetry types are pure TypeScript with no
// Node dependencies: the dashboard compiles them from source, so there is one
// definition of each for the server and the browser.
export const engineAliases = {
  '@uckpt/engine/config': fileURLToPath(new URL('../../packages/engine/src/config.ts', import.meta.url)),
  '@uckpt/engine/events': fileURLToPath(new URL('../../packages/engine/src/events.ts', import.meta.url)),
  '@uckpt/engine/faults': fileURLToPath(new URL('../../packages/engine/src/faults.ts', import.meta.url)),
  '@uckpt/engine/protocol': fileURLToPath(new URL('../../packages/engine/src/protocol.ts', import.meta.url)),
};

export default defineConfig({
  plugins: [react()],
  resolve: { alias: engineAliases },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: {
    // `pnpm --filter @uckpt/web dev` against a server on the default port.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
});
