import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The notebook widget: one self-contained ES module (React, the views, their CSS inlined) that
// anywidget loads in Jupyter; written into the Python package (`make widget`).
export default defineConfig({
  plugins: [react()],
  publicDir: false,
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    outDir: '../backend/loupe/notebook/static',
    emptyOutDir: false,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    lib: { entry: 'src/widget/index.tsx', formats: ['es'], fileName: () => 'widget.js' },
    rollupOptions: { output: { inlineDynamicImports: true } },
  },
});
