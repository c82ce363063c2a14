# Coffer's container image: the server (`coffer server`), the CLI, and the Kubernetes operator,
# injector and in-pod helpers (`coffer k8s ...`). Two stages: the build stage has the whole
# toolchain (it compiles better-sqlite3 and TypeScript); the run stage is distroless Node 20 --
# no shell, no package manager -- running as the non-root user 65532 and writing nothing
# outside its volumes, so `readOnlyRootFilesystem: true` holds. See docs/kubernetes.md.
# test/packaging/dockerfile.test.ts checks offline what can be checked without building it.

FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY packages/client/package.json packages/client/tsconfig.json packages/client/README.md ./packages/client/
COPY bin ./bin
COPY src ./src
# `npm ci` runs the prepare script (the build); then the dev dependencies go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/packages/client/package.json ./packages/client/package.json
COPY --from=build /src/packages/client/dist ./packages/client/dist
COPY --from=build /src/node_modules ./node_modules
USER 65532:65532
# Storage (SQLite) and configuration are volumes; the root filesystem stays read-only.
VOLUME ["/coffer/data"]
EXPOSE 8200 8443
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/coffer.js"]
CMD ["server", "--config", "/coffer/config/coffer.hcl"]
