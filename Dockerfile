# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, run with production ones only, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY src ./src
COPY bench ./bench
COPY test/helpers/processes.ts test/helpers/kafka-mock.py ./test/helpers/
COPY clients/js ./clients/js
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    REALTIME_HTTP_ADDR=0.0.0.0:8080 \
    REALTIME_GRPC_ADDR=0.0.0.0:50051
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/proto ./proto
# Exact descriptors for gRPC server reflection.
COPY --from=build /app/src/gen/realtime/v1/descriptor-set.binpb ./src/gen/realtime/v1/descriptor-set.binpb
COPY --from=build /app/src/gen/grpc/health/v1/descriptor-set.binpb ./src/gen/grpc/health/v1/descriptor-set.binpb
COPY demo ./demo
USER node
EXPOSE 8080 50051
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["serve"]
