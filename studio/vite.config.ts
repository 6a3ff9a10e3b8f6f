import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served behind Envoy at /studio/ (deploy/sage_deploy/topology.yaml); `npm run dev` proxies the
// mesh's front door (SAGE_ENVOY, default http://127.0.0.1:8080) for /v1 and /studio/api.
const envoy = process.env.SAGE_ENVOY ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/studio/",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, target: "es2020" },
  server: { proxy: { "/v1": envoy, "/studio/api": envoy } },
});
