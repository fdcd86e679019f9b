# pointswitch: the switch (POS TCP 8583, admin HTTP 8080). Postgres and Redis come from DATABASE_URL/REDIS_URL
# (docker-compose.yml wires both).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the image uses DATABASE_URL, never the embedded PostgreSQL binaries.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY protocol protocol
COPY src src
COPY simulators simulators
COPY migrations migrations
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production POS_PORT=8583 ADMIN_PORT=8080
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/migrations migrations
USER node
EXPOSE 8583 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD node -e "fetch('http://127.0.0.1:'+(process.env.ADMIN_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# exec form: SIGTERM reaches node, which stops accepting, finishes in-flight requests, then exits.
CMD ["node", "dist/src/cli/main.js", "start"]
