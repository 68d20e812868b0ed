import { defineConfig } from 'vite';

// Builds bench/index.html (the benchmark page) into bench/dist.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: { outDir: 'dist', emptyOutDir: true },
  preview: { port: 4183, strictPort: true, host: '127.0.0.1' },
});
