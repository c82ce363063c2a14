// Builds the web UI into dist/ui, served by the Coffer server at /ui/ (src/http/ui-route.ts).
// No inlined assets and no inline scripts: the server's CSP allows only 'self'.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    // `npm run ui:dev`: the app with hot reload, the API from a dev server on :8200.
    proxy: { '/v1': 'http://127.0.0.1:8200' },
  },
});
